"""Teacher self-agreement: the teacher samples other transcripts of each clip, compared with its greedy label.

The teacher is the one `score` labels with (`--teacher`, `--window`, `--task`: `ExtraOptions.teacher`,
`window`, `task`; by default the bundled Whisper base), on CTranslate2. Each batch of clips is encoded once,
and that encoder output (a StorageView) goes to one `generate` call that samples `ExtraOptions.samples`
transcripts per clip at `ExtraOptions.temperature` over the whole vocabulary (top-k 0), with the clip's
language in the prompt, like the teacher pass: the encoder never runs twice. Each
sample passes Whisper's no-speech rule as the label did, so an emptied label on a clip with no speech is
matched by emptied samples. `engine.scores.agreement` turns them into `agreement_wer`, `agreement_cer`
and `agreement_share`.

A clip whose samples cannot be read (empty or non-finite) or that the teacher fails on gets NaN; a failed
batch is retried clip by clip, so one bad clip costs only itself.
"""
from __future__ import annotations

import warnings
from typing import Protocol

import numpy as np

from engine.extras import Batch, ExtraOptions, Scorer
from engine.scores.agreement import agreement_cer, agreement_share, agreement_wer
from engine.teacher.options import LOGPROB_THRESHOLD, NO_SPEECH_THRESHOLD, TeacherOptions

SEED = 0  # CTranslate2's sampler is seeded once per process, so a fresh run of the same shards repeats itself


class Sampler(Protocol):
    def sample(self, waveforms: list[np.ndarray], langs: list[str]) -> list[list[str]]:
        """Transcripts of each 16 kHz clip other than the greedy one, in its language."""


class TeacherSampler:
    """The teacher, loaded once; `sample` returns `options.samples` transcripts per clip from one encoder pass."""

    def __init__(self, options: ExtraOptions):
        import ctranslate2

        from engine.teacher.ct2 import CT2Teacher

        ctranslate2.set_random_seed(SEED)
        self.samples, self.temperature = options.samples, options.temperature
        self.teacher = CT2Teacher(TeacherOptions(teacher=options.teacher, device=options.device,
                                                 threads=options.threads, batch_size=options.batch_size,
                                                 window=options.window, task=options.task))

    def sample(self, waveforms: list[np.ndarray], langs: list[str]) -> list[list[str]]:
        """`samples` transcripts of each 16 kHz clip, decoded in its language (English where the teacher has none)."""
        import ctranslate2

        teacher = self.teacher
        frames = teacher.window_frames(max(len(w) for w in waveforms))
        features = np.stack([teacher.log_mel(w, frames) for w in waveforms])
        encoded = teacher.model.encode(ctranslate2.StorageView.from_array(features))  # the only encoder pass
        prompts = [teacher.prompt(lang if teacher.language_token(lang) is not None else "en") for lang in langs]
        results = teacher.model.generate(
            encoded, prompts, beam_size=1, num_hypotheses=self.samples, sampling_topk=0,
            sampling_temperature=self.temperature,
            max_length=2 * teacher.options.max_label_tokens,  # as the teacher pass: at most max_label_tokens
            return_scores=True, return_no_speech_prob=True,
        )
        return [[self._text(ids, score, r.no_speech_prob) for ids, score in zip(r.sequences_ids, r.scores)]
                for r in results]

    def _text(self, ids: list[int], score: float, no_speech_prob: float) -> str:
        """A sample's text, emptied by Whisper's no-speech rule as the label was. CTranslate2's score is the
        summed log-probability of the tokens and end-of-text over the tokens; avg_logprob divides by n + 1."""
        avg_logprob = score * len(ids) / (len(ids) + 1)
        if no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob < LOGPROB_THRESHOLD:
            return ""
        return self.teacher.tokenizer.decode([t for t in ids if t < self.teacher.eot]).strip()


def readable(samples: np.ndarray) -> bool:
    """Whether a clip's samples can be encoded: some, all finite."""
    return len(samples) > 0 and bool(np.isfinite(samples).all())


def sampled_transcripts(sampler: Sampler, samples: list[np.ndarray], langs: list[str]) -> list[list[str] | None]:
    """The sampler's transcripts of each readable clip; None for the others and for a clip it fails on
    (a failed batch is retried clip by clip)."""
    out: list[list[str] | None] = [None] * len(samples)
    todo = [i for i, s in enumerate(samples) if readable(s)]
    if not todo:
        return out
    try:
        for i, texts in zip(todo, sampler.sample([samples[i] for i in todo], [langs[i] for i in todo])):
            out[i] = texts
    except Exception:
        for i in todo:
            out[i] = _one_or_none(sampler, samples[i], langs[i])
    return out


def _one_or_none(sampler: Sampler, samples: np.ndarray, lang: str) -> list[str] | None:
    try:
        return sampler.sample([samples], [lang])[0]
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


def agreement_scorer(options: ExtraOptions) -> Scorer:
    """Load the teacher once; each batch gets its samples' agreement with the labels."""
    sampler = TeacherSampler(options)

    def score(batch: Batch) -> dict[str, np.ndarray]:
        return agreement_columns(batch.labels, sampled_transcripts(sampler, batch.samples, batch.langs), batch.langs)

    return score
