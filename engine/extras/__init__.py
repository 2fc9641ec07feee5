"""Extra score groups: scores that need their own model or a second look at the audio, added to a scored workspace.

An extra is a named group (`whisper-curator score WS --add proxy,lm`): a loader that builds a
`Scorer` once per run, and the columns it writes (declared, with their direction, by a module in
`engine/scores/`). This package holds the registry and one module per model (proxy ASR, phonemes, LM,
DNSMOS, text embedding, VAD); `engine.scoring.extras` runs them in resumable shards.
"""
from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.teacher.options import SAMPLE_TEMPERATURE, SAMPLES


@dataclass(frozen=True)
class ExtraOptions:
    """Where extra models run and which ones; `None` picks the offline default."""

    device: str = "auto"  # auto, cpu or cuda
    threads: int = 0  # CPU threads (0 = all cores)
    batch_size: int = 8  # clips per scorer call
    proxy: str | None = None  # proxy ASR: a transformers model id or folder
    lm: str | None = None  # causal language model: a transformers model id or folder
    # agreement: the teacher the workspace was labelled with (score's --teacher, --window, --task)...
    teacher: str | None = None  # CTranslate2 folder, HF folder or hub id; None = bundled Whisper base
    window: str = "full"  # the teacher's encoder window (TeacherOptions.window)
    task: str = "transcribe"
    # ...and how it samples (engine.teacher.options says why these defaults)
    samples: int = SAMPLES  # transcripts sampled per clip
    temperature: float = SAMPLE_TEMPERATURE

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError("samples must be at least 1")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be above 0, not {self.temperature}")


@dataclass
class Batch:
    """What a scorer sees: clips the teacher labelled, their 16 kHz audio, label and language."""

    ids: list[str]
    samples: list[np.ndarray]
    labels: list[str]  # the teacher's pseudo-label ("" when the no-speech rule emptied it)
    langs: list[str]  # the clip's language (stated by the input, else detected by the teacher)
    sampled: list[list[str] | None] | None = None  # transcripts the teacher pass sampled (None: it did not)


Scorer = Callable[[Batch], dict[str, np.ndarray]]
"""Returns one (N,) array per column (object arrays for text), or (N, d) for an embedding."""


@dataclass(frozen=True)
class Extra:
    name: str  # what `--add` takes
    loader: str  # "module:function", called with ExtraOptions, returns a Scorer; imported only when used
    columns: tuple[str, ...]  # columns (and embeddings) the scorer returns
    help: str
    default: bool = False  # run by `score` unless --add says otherwise
    model_option: str | tuple[str, ...] | None = None  # the ExtraOptions field(s) its output depends on: shard key

    def fingerprint(self, options: ExtraOptions) -> str:
        option = self.model_option
        value = [getattr(options, o) for o in option] if isinstance(option, tuple) else (
            getattr(options, option) if option else None)
        return json.dumps([self.name, value])

    def load(self, options: ExtraOptions) -> Scorer:
        module, function = self.loader.split(":")
        return getattr(importlib.import_module(module), function)(options)


EXTRAS: dict[str, Extra] = {e.name: e for e in (
    Extra("truncation", "engine.extras.vad:truncation_scorer", ("truncation",), default=True,
          help="speech at the clip's first/last 100 ms (Silero VAD): a clip cut mid-word"),
    Extra("lm", "engine.extras.lm:lm_scorer", ("lm_nll",), model_option="lm",
          help="NLL per token of the label under a causal LM (--lm; default Gemma-3 270M): catches garbled "
               "labels, not fluent hallucinations"),
    Extra("text", "engine.extras.text_embedding:text_embedding_scorer", ("text_embedding",),
          help="sentence embedding of each label (all-MiniLM-L6-v2), written to embeddings/text.npy for the map"),
    Extra("dnsmos", "engine.extras.dnsmos:dnsmos_scorer", ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl"),
          help="DNSMOS audio quality (speechmos, ~1 s a clip): weak predictor of label quality"),
    Extra("proxy", "engine.extras.proxy:proxy_scorer", ("proxy_text", "proxy_model", "proxy_wer", "proxy_cer"),
          default=True, model_option="proxy",
          help="an independent ASR model's transcript and its WER/CER against the label (--proxy; default "
               "Whisper tiny.en, English clips only)"),
    Extra("phoneme", "engine.extras.phonemes:phoneme_scorer", ("proxy_per",),
          help="phoneme error rate of the label (G2P) against hama's phoneme recogniser (English clips only)"),
    Extra("agreement", "engine.extras.agreement:agreement_scorer",
          ("agreement_wer", "agreement_cer", "agreement_share"),
          model_option=("teacher", "window", "task", "samples", "temperature"),
          help=f"the teacher (--teacher, --window, --task as when labelling) samples {ExtraOptions.samples} more "
               "transcripts of each clip from the encoder output of its own pass (or one more encoder pass when "
               "added later): their mean WER/CER against the label and the share identical to it "
               "(lower/higher = the teacher repeats itself)"),
    Extra("align", "engine.extras.phonemes:align_scorer", ("align_score",),
          help="CTC forced alignment of the label's phonemes with hama's phoneme recogniser, per phoneme "
               "(English clips only; an empty label scores how little speech it hears)"),
)}
EMBEDDING_COLUMNS = {"text_embedding": "text"}  # scorer output → embeddings/<name>.npy


def extra_names(spec: str) -> list[str]:
    """`--add` value → extra names: a comma list, `default`, `all` or `none`."""
    names: list[str] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if part == "all":
            names += list(EXTRAS)
        elif part == "default":
            names += [n for n, e in EXTRAS.items() if e.default]
        elif part == "none":
            continue
        elif part in EXTRAS:
            names.append(part)
        else:
            raise ValueError(f"unknown score group {part!r}; choose from {', '.join(EXTRAS)}, default, all, none")
    return list(dict.fromkeys(names))
