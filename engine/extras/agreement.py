"""Teacher self-agreement: the teacher samples other transcripts of each clip, compared with its greedy label.

The teacher is the one `score` labels with (`--teacher`, `--window`, `--task`: `ExtraOptions.teacher`,
`window`, `task`; by default the bundled Whisper base), on CTranslate2. It samples `ExtraOptions.samples`
transcripts per clip at `ExtraOptions.temperature` over the whole vocabulary, with the clip's language in the
prompt, from an encoder output it has already computed: when `score` runs the group, the teacher pass samples
beside its greedy decode (`Batch.sampled`); for a workspace labelled earlier, each batch is encoded once more and
that output goes to one sampling call (`Teacher.sample`). Each sample passes Whisper's no-speech rule as the
label did, so an emptied label on a clip with no speech is matched by emptied samples. `engine.scores.agreement`
turns them into `agreement_wer`, `agreement_cer` and `agreement_share`.

A clip whose samples cannot be read (empty or non-finite) or that the teacher fails on gets NaN; a failed
batch is retried clip by clip, so one bad clip costs only itself.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Protocol

import numpy as np

from engine.extras import Batch, ExtraOptions, Scorer
from engine.scores.agreement import agreement_cer, agreement_share, agreement_wer
from engine.teacher.options import TeacherOptions


class Sampler(Protocol):
    def sample(self, waveforms: list[np.ndarray], langs: list[str], labels: list[str]) -> list[list[str]]:
        """Transcripts of each 16 kHz clip other than its greedy label, in its language."""


def teacher_options(options: ExtraOptions) -> TeacherOptions:
    """The teacher that samples for the group: the labelling teacher on CTranslate2, sampling as `options` say."""
    return TeacherOptions(teacher=options.teacher, device=options.device, threads=options.threads,
                          batch_size=options.batch_size, window=options.window, task=options.task,
                          samples=options.samples, temperature=options.temperature)


def teacher_sampler(options: ExtraOptions) -> Sampler:
    """The teacher, loaded now (CTranslate2 Whisper; its sampler seeded, so a rerun repeats itself)."""
    from engine.teacher.ct2 import CT2Teacher

    return CT2Teacher(teacher_options(options))


def readable(samples: np.ndarray) -> bool:
    """Whether a clip's samples can be encoded: some, all finite."""
    return len(samples) > 0 and bool(np.isfinite(samples).all())


def sampled_transcripts(sampler: Sampler, samples: list[np.ndarray], langs: list[str],
                        labels: list[str]) -> list[list[str] | None]:
    """The sampler's transcripts of each readable clip; None for the others and for a clip it fails on
    (a failed batch is retried clip by clip)."""
    out: list[list[str] | None] = [None] * len(samples)
    todo = [i for i, s in enumerate(samples) if readable(s)]
    if not todo:
        return out
    try:
        for i, texts in zip(todo, sampler.sample([samples[i] for i in todo], [langs[i] for i in todo],
                                                 [labels[i] for i in todo])):
            out[i] = texts
    except Exception:
        for i in todo:
            out[i] = _one_or_none(sampler, samples[i], langs[i], labels[i])
    return out


def _one_or_none(sampler: Sampler, samples: np.ndarray, lang: str, label: str) -> list[str] | None:
    try:
        return sampler.sample([samples], [lang], [label])[0]
    except Exception as error:
        warnings.warn(f"the teacher could not sample a clip: {error}", stacklevel=2)
        return None


def agreement_columns(labels: list[str], alternatives: list[list[str] | None],
                      langs: list[str]) -> dict[str, np.ndarray]:
    """The agreement group's columns for one batch."""
    return {
        "agreement_wer": agreement_wer(labels, alternatives, langs),
        "agreement_cer": agreement_cer(labels, alternatives, langs),
        "agreement_share": agreement_share(labels, alternatives, langs),
    }


def agreement_scorer(options: ExtraOptions, load: Callable[[ExtraOptions], Sampler] | None = None) -> Scorer:
    """Each batch gets its samples' agreement with the labels: the teacher pass's samples where it drew them,
    else the sampler's (`load`, default `teacher_sampler`), loaded the first time a batch needs it."""
    sampler: Sampler | None = None

    def score(batch: Batch) -> dict[str, np.ndarray]:
        nonlocal sampler
        drawn = batch.sampled or [None] * len(batch.ids)
        todo = [i for i, texts in enumerate(drawn) if texts is None]
        alternatives = list(drawn)
        if todo:
            sampler = sampler or (load or teacher_sampler)(options)
            for i, texts in zip(todo, sampled_transcripts(sampler, [batch.samples[i] for i in todo],
                                                          [batch.langs[i] for i in todo],
                                                          [batch.labels[i] for i in todo])):
                alternatives[i] = texts
        return agreement_columns(batch.labels, alternatives, batch.langs)

    return score
