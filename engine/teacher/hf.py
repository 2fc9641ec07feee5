"""PyTorch backend of the teacher pass: any transformers Whisper (local folder or hub id).

Same contract as the CTranslate2 backend — one encoder pass, language ID from the first decoder
step, greedy decoding with Whisper's token suppression — in float32 on CPU, bf16/fp16 on CUDA.
"""
from __future__ import annotations

import numpy as np
import torch

from engine.teacher.base import Teacher
from engine.teacher.convert import resolve_hf_dir
from engine.teacher.models import is_multilingual, model_window_seconds
from engine.teacher.options import Decoded, TeacherOptions

MASKED = float(np.finfo(np.float32).min)  # what suppressed logits become (as in CTranslate2)


def _dtype(options: TeacherOptions, device: str) -> torch.dtype:
    if options.compute_type not in ("auto", "float32", "float16", "bfloat16"):
        raise ValueError(f"the torch backend computes in float32, float16 or bfloat16, not {options.compute_type!r}")
    if options.compute_type != "auto":
        return getattr(torch, options.compute_type)
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


class TorchTeacher(Teacher):
    def __init__(self, options: TeacherOptions = TeacherOptions(backend="torch")):
        from transformers import WhisperForConditionalGeneration

        if options.window != "full":
            raise ValueError("the torch backend needs the model's own window (transformers checks it); "
                             "use --backend ct2 for another --window")
        self.model_dir = resolve_hf_dir(options.teacher)
        self.device = "cuda" if options.device == "auto" and torch.cuda.is_available() else (
            "cpu" if options.device == "auto" else options.device)
        self.dtype = _dtype(options, self.device)
        if options.threads:
            torch.set_num_threads(options.threads)
        self.model = WhisperForConditionalGeneration.from_pretrained(self.model_dir, dtype=self.dtype)
        self.model.to(self.device).eval()
        config = self.model.config
        super().__init__(options, self.model_dir / "tokenizer.json", is_multilingual(config.vocab_size), config.num_mel_bins,
                         model_window_seconds(self.model_dir))
        vocab = config.vocab_size
        self.suppress = torch.zeros(vocab, dtype=torch.bool)
        self.suppress[self.eot + 1 :] = True  # special and timestamp tokens never appear inside a label
        generation = self.model.generation_config
        self.suppress[[t for t in (generation.suppress_tokens or []) if t < vocab]] = True
        self.suppress_first = torch.zeros(vocab, dtype=torch.bool)
        self.suppress_first[[t for t in (generation.begin_suppress_tokens or []) if t < vocab]] = True
        self.language_ids = [(code, self.language_token(code)) for code in self.tokenizer_languages()]

    def tokenizer_languages(self) -> list[str]:
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        return [code for code in _LANGUAGE_CODES if self.language_token(code) is not None]

    @torch.inference_mode()
    def _encode(self, features: np.ndarray) -> torch.Tensor:
        inputs = torch.from_numpy(features).to(self.device, self.dtype)
        return self.model.model.encoder(input_features=inputs).last_hidden_state

    @torch.inference_mode()
    def _detect_language(self, encoded: torch.Tensor) -> list[tuple[str, float]]:
        start = torch.full((len(encoded), 1), self.tokenizer.sot, device=self.device)
        logits = self.model(encoder_outputs=(encoded,), decoder_input_ids=start).logits[:, -1].float()
        ids = torch.tensor([token for _, token in self.language_ids], device=self.device)
        probs = logits[:, ids].softmax(dim=-1)
        best = probs.argmax(dim=-1)
        return [(self.language_ids[b][0], float(probs[i, b])) for i, b in enumerate(best.tolist())]

    @torch.inference_mode()
    def _decode(self, encoded: torch.Tensor, prompts: list[list[int]]) -> list[Decoded]:
        prompt = torch.tensor(prompts, device=self.device)
        out = self.model(encoder_outputs=(encoded,), decoder_input_ids=prompt, use_cache=True)
        no_speech = out.logits[:, 0].float().softmax(dim=-1)[:, self.tokenizer.no_speech].tolist()
        logits, cache = out.logits[:, -1].float().cpu(), out.cache
        batch = len(prompts)
        tokens: list[list[int]] = [[] for _ in range(batch)]
        rows: list[list[np.ndarray]] = [[] for _ in range(batch)]
        finished = [False] * batch
        for step in range(self.options.max_label_tokens):
            mask = self.suppress | self.suppress_first if step == 0 else self.suppress
            logits = logits.masked_fill(mask, MASKED)
            chosen = logits.argmax(dim=-1)
            for i in range(batch):
                if not finished[i]:
                    rows[i].append(logits[i].numpy())
                    if int(chosen[i]) == self.eot:
                        finished[i] = True
                    else:
                        tokens[i].append(int(chosen[i]))
            if all(finished):
                break
            out = self.model(encoder_outputs=(encoded,), decoder_input_ids=chosen[:, None].to(self.device),
                             cache=cache, use_cache=True)
            logits, cache = out.logits[:, -1].float().cpu(), out.cache
        return [Decoded(t, np.stack(r), p) for t, r, p in zip(tokens, rows, no_speech)]

    def _states(self, encoded: torch.Tensor) -> np.ndarray:
        return encoded.float().cpu().numpy()
