"""CTranslate2 backend of the teacher pass: int8 on CPU, float16 on CUDA (a Hugging Face teacher is converted
to it once and cached)."""
from __future__ import annotations

import numpy as np

from engine.teacher.base import Teacher
from engine.teacher.models import model_window_seconds, resolve_teacher_dir
from engine.teacher.options import Decoded, TeacherOptions, sample_token_limit

SEED = 0  # CTranslate2's sampler is seeded once per process, so a fresh run of the same clips samples the same

class CT2Teacher(Teacher):
    """CTranslate2 backend: int8 on CPU, float16 on CUDA."""

    def __init__(self, options: TeacherOptions = TeacherOptions()):
        import ctranslate2

        self.model_dir = resolve_teacher_dir(options.teacher)
        device = options.device
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        compute_type = options.compute_type
        if compute_type == "auto":
            compute_type = "float16" if device == "cuda" else "int8"
        self.device = device
        if options.samples:
            ctranslate2.set_random_seed(SEED)
        self.model = ctranslate2.models.Whisper(
            str(self.model_dir), device=device, compute_type=compute_type, intra_threads=options.threads
        )
        super().__init__(options, self.model_dir / "tokenizer.json", self.model.is_multilingual, self.model.n_mels,
                         model_window_seconds(self.model_dir))

    def _encode(self, features: np.ndarray):
        import ctranslate2

        return self.model.encode(ctranslate2.StorageView.from_array(features))

    def _detect_language(self, encoded) -> list[tuple[str, float]]:
        return [(pairs[0][0][2:-2], pairs[0][1]) for pairs in self.model.detect_language(encoded)]

    def _decode(self, encoded, prompts: list[list[int]]) -> list[Decoded]:
        results = self.model.generate(
            encoded,
            prompts,
            beam_size=1,
            max_length=2 * self.options.max_label_tokens,  # CTranslate2 generates at most max_length / 2
            return_logits_vocab=True,
            return_no_speech_prob=True,
        )
        return [Decoded(r.sequences_ids[0], np.stack([np.asarray(row) for row in r.logits[0]]), r.no_speech_prob)
                for r in results]

    def _sample(self, encoded, prompts: list[list[int]], longest_label: int) -> list[list[str]]:
        """`options.samples` transcripts per clip at `options.temperature` over the whole vocabulary (top-k 0), each
        at most `sample_token_limit(longest_label)` tokens. CTranslate2's score is the summed log-probability of the tokens and end-of-text over the tokens;
        avg_logprob divides by n + 1."""
        results = self.model.generate(
            encoded, prompts, beam_size=1, num_hypotheses=self.options.samples, sampling_topk=0,
            sampling_temperature=self.options.temperature,
            max_length=2 * sample_token_limit(longest_label, self.options.max_label_tokens),  # generates max_length / 2
            return_scores=True, return_no_speech_prob=True,
        )
        return [[self.sampled_text(ids, score * len(ids) / (len(ids) + 1), r.no_speech_prob)
                 for ids, score in zip(r.sequences_ids, r.scores)] for r in results]

    def _states(self, encoded) -> np.ndarray:
        import ctranslate2

        return np.asarray(encoded.to_device(ctranslate2.Device.cpu) if self.device == "cuda" else encoded)
