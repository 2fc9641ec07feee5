"""The teacher pass, backend-independent: one encoder pass per clip → greedy pseudo-label, token statistics,
language, embedding.

Clips are padded to Whisper's 30 s window and batched; the encoder output feeds language
identification, greedy decoding and the mean-pooled audio embedding, so nothing runs twice.
Backends (`ct2`, `hf`) supply the model calls.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from engine.io.audio import MAX_SECONDS, SAMPLE_RATE
from engine.teacher.options import (
    FIT_MARGIN_SECONDS, FIT_MIN_SECONDS, FRAMES_PER_SECOND, N_FRAMES, N_SAMPLES, Decoded, TeacherOptions,
    TeacherOutput, fixed_window_seconds, no_speech,
)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def token_statistics(step_logits: np.ndarray, tokens: list[int]) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Per-token log-probability and entropy from raw step logits, plus end-of-text's log-probability.

    `step_logits` is (n + 1, vocab): one row per generated token and a last row for end-of-text,
    with suppressed entries at about -3.4e38 (CTranslate2's mask), which get probability zero.
    A label cut at the token limit has no end-of-text row: its log-probability is None.
    """
    logp = _log_softmax(step_logits.astype(np.float64))
    probs = np.exp(logp)
    entropies = -(probs * np.where(probs > 0, logp, 0.0)).sum(axis=-1)
    n = len(tokens)
    chosen = logp[np.arange(n), tokens] if n else np.zeros(0)
    eot = float(logp[n].max()) if len(logp) > n else None  # greedy: end-of-text was the argmax
    return chosen.astype(np.float32), entropies[:n].astype(np.float32), eot


class Teacher:
    """A Whisper teacher loaded once; `run` labels a batch of 16 kHz waveforms.

    Subclasses supply the model: `_encode`, `_detect_language`, `_decode`, `_states`.
    """

    def __init__(self, options: TeacherOptions, tokenizer_file: Path, multilingual: bool, n_mels: int,
                 window_seconds: float = MAX_SECONDS):
        import tokenizers
        from faster_whisper.feature_extractor import FeatureExtractor
        from faster_whisper.tokenizer import Tokenizer

        self.options = options
        self.multilingual = multilingual
        self.own_frames = int(round(window_seconds * 50)) * 2  # the model's window, in mel frames
        self.features = FeatureExtractor(feature_size=n_mels)
        self.tokenizer = Tokenizer(tokenizers.Tokenizer.from_file(str(tokenizer_file)), multilingual,
                                   task=options.task, language="en")
        self.eot = self.tokenizer.eot

    def log_mel(self, waveform: np.ndarray, frames: int = N_FRAMES) -> np.ndarray:
        """(n_mels, frames) log-mel features of a clip padded with silence to 30 s, then cut to `frames`."""
        padded = np.zeros(N_SAMPLES, dtype=np.float32)
        padded[: min(len(waveform), N_SAMPLES)] = waveform[:N_SAMPLES]
        return self.features(padded, padding=0)[:, :frames]

    def window_frames(self, longest_samples: int) -> int:
        """Mel frames the encoder sees: the model's own window (Whisper's 30 s), a fixed shorter one, or
        with window="fit" one that covers the batch's longest clip plus a margin of silence (the encoder's
        cost grows with it). Audio past the window is not seen."""
        if self.options.window == "full":
            return self.own_frames
        if self.options.window != "fit":
            return min(self.own_frames, int(round(fixed_window_seconds(self.options.window) * 50)) * 2)
        seconds = max(FIT_MIN_SECONDS, longest_samples / SAMPLE_RATE + FIT_MARGIN_SECONDS)
        return min(self.own_frames, int(np.ceil(seconds / 5) * 5 * 100))

    def prompt(self, lang: str) -> list[int]:
        """<|startoftranscript|><|lang|><|task|><|notimestamps|> (no language/task for English-only models)."""
        prompt = [self.tokenizer.sot]
        if self.multilingual:
            prompt += [self.language_token(lang), self.tokenizer.task]
        return prompt + [self.tokenizer.no_timestamps]

    def language_token(self, lang: str | None) -> int | None:
        return self.tokenizer.tokenizer.token_to_id(f"<|{lang}|>") if lang else None

    def run(self, waveforms: list[np.ndarray], langs: list[str | None]) -> list[TeacherOutput]:
        """Label a batch: one encoder pass, language ID, greedy decoding, token statistics."""
        frames = self.window_frames(max(len(w) for w in waveforms))
        encoded = self._encode(np.stack([self.log_mel(w, frames) for w in waveforms]))
        detected = self._detect_language(encoded) if self.multilingual else [(None, 1.0)] * len(waveforms)
        decode_langs = [given if self.language_token(given) is not None else (found or "en")
                        for given, (found, _) in zip(langs, detected)]
        prompts = [self.prompt(lang) for lang in decode_langs]
        results = self._decode(encoded, prompts)
        states = self._states(encoded)
        outputs = []
        for i, result in enumerate(results):
            tokens = [t for t in result.tokens if t < self.eot]
            logprobs, entropies, eot_logprob = token_statistics(result.step_logits, tokens)
            n_frames = max(1, min(states.shape[1], int(np.ceil(len(waveforms[i]) / SAMPLE_RATE * FRAMES_PER_SECOND))))
            output = TeacherOutput(
                text=self.tokenizer.decode(tokens).strip(),
                tokens=tokens,
                token_logprobs=logprobs,
                token_entropies=entropies,
                eot_logprob=eot_logprob or 0.0,
                hit_limit=eot_logprob is None,
                no_speech_prob=float(result.no_speech_prob),
                lang=decode_langs[i],
                detected_lang=detected[i][0],
                lang_prob=float(detected[i][1]),
                embedding=states[i, :n_frames].astype(np.float32).mean(axis=0),
            )
            if output.emptied:
                output.text = ""
            outputs.append(output)
        sampled = self._sampled_or_none(encoded, prompts, self.longest_label([o.text for o in outputs]))
        for output, samples in zip(outputs, sampled):
            output.samples = samples
        return outputs

    def sample(self, waveforms: list[np.ndarray], langs: list[str], labels: list[str]) -> list[list[str]]:
        """`options.samples` transcripts of each 16 kHz clip, decoded in its language (English where the teacher
        has none) from one encoder pass, for a workspace labelled earlier (`run` samples in its own pass); as
        there, a sample stops at `sample_token_limit` of the batch's longest label."""
        frames = self.window_frames(max(len(w) for w in waveforms))
        encoded = self._encode(np.stack([self.log_mel(w, frames) for w in waveforms]))
        return self._sample(encoded, [self.prompt(lang if self.language_token(lang) is not None else "en")
                                      for lang in langs], self.longest_label(labels))

    def longest_label(self, labels: list[str]) -> int:
        """Tokens in the longest of `labels` (an emptied label counts 0): what caps a batch's samples, the same
        whether they are drawn in the teacher pass or later."""
        return max(len(self.tokenizer.encode(label)) if label else 0 for label in labels)

    def _sampled_or_none(self, encoded, prompts: list[list[int]], longest: int) -> list[list[str] | None]:
        """`_sample`'s transcripts when the options ask for them; None for each clip when they do not, or when
        sampling fails (the label stands; the agreement group samples those clips again)."""
        if self.options.samples:
            try:
                return self._sample(encoded, prompts, longest)
            except Exception as error:
                warnings.warn(f"the teacher could not sample this batch: {error}", stacklevel=2)
        return [None] * len(prompts)

    def sampled_text(self, tokens: list[int], avg_logprob: float, no_speech_prob: float) -> str:
        """A sampled transcript's text, emptied by Whisper's no-speech rule as the label is."""
        if no_speech(no_speech_prob, avg_logprob):
            return ""
        return self.tokenizer.decode([t for t in tokens if t < self.eot]).strip()

    def _encode(self, features: np.ndarray):
        raise NotImplementedError

    def _sample(self, encoded, prompts: list[list[int]], longest_label: int) -> list[list[str]]:
        raise NotImplementedError(f"{type(self).__name__} cannot sample transcripts")

    def _detect_language(self, encoded) -> list[tuple[str, float]]:
        raise NotImplementedError

    def _decode(self, encoded, prompts: list[list[int]]) -> list[Decoded]:
        raise NotImplementedError

    def _states(self, encoded) -> np.ndarray:
        raise NotImplementedError
