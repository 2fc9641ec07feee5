"""Greedy decoding of a transformers Whisper from the teacher cache's inputs, for the held-out check during
training: how far the student's own transcripts are from the pseudo-labels, and whether they loop."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.distill.data import ENCODER, TeacherCache
from engine.distill.evaluate import corpus_wer
from engine.distill.experts import route_languages

LOOP_MARGIN = 2.0  # a transcript reaching this many times its label's length (+ LOOP_SLACK tokens) is a loop
LOOP_SLACK = 10


@dataclass
class HeldOutCheck:
    wer: float  # corpus WER of the greedy transcripts against the pseudo-labels
    loops: int  # transcripts that reached twice their label's length (+ 10 tokens): repetition loops


@torch.no_grad()
def greedy_tokens(model, inputs: torch.Tensor, kind: str, prompt: torch.Tensor, max_new: int, eot: int) -> list[list[int]]:
    """Greedy continuations of `prompt` (B, P) for a batch of cached inputs; each list ends at <|endoftext|>
    (excluded) or after `max_new` tokens. Positions past the model's limit are never asked for."""
    encoded = inputs if kind == ENCODER else model.model.encoder(input_features=inputs).last_hidden_state
    max_new = min(max_new, model.config.max_target_positions - prompt.shape[1])
    ids, cache = prompt, None
    done = torch.zeros(len(prompt), dtype=torch.bool)
    out: list[list[int]] = [[] for _ in range(len(prompt))]
    for _ in range(max_new):
        step = model(encoder_outputs=(encoded,), decoder_input_ids=ids if cache is None else ids[:, -1:],
                     cache=cache, use_cache=True)
        cache, token = step.cache, step.logits[:, -1].argmax(-1)
        for b in np.flatnonzero(~done.numpy()):
            out[b].append(int(token[b]))
        done |= token == eot
        if done.all():
            break
        ids = torch.cat([ids, token[:, None]], dim=1)
    return [seq[:-1] if seq and seq[-1] == eot else seq for seq in out]


def held_out_check(model, cache: TeacherCache, rows: np.ndarray, tokenizer, device, batch_size: int = 8) -> HeldOutCheck:
    """Decode the held-out rows greedily and compare with their pseudo-labels (the cached target tokens)."""
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    prompt_length = cache.entries[0].tokens.index(tokenizer.convert_tokens_to_ids("<|notimestamps|>")) + 1
    model.eval()
    labels, texts, loops = [], [], 0
    for start in range(0, len(rows), batch_size):
        batch = [cache.entries[i].tokens for i in rows[start:start + batch_size]]
        prompt = torch.tensor([seq[:prompt_length] for seq in batch], device=device)
        limits = [int(LOOP_MARGIN * (len(seq) - prompt_length - 1)) + LOOP_SLACK for seq in batch]
        cached = cache.batch(rows[start:start + batch_size])
        route_languages(model, cached.langs)  # a student with language experts: each clip's own
        hypotheses = greedy_tokens(model, cached.inputs.to(device), cache.kind, prompt, max(limits), eot)
        for seq, limit, hypothesis in zip(batch, limits, hypotheses):
            labels.append(tokenizer.decode(seq[prompt_length:-1]))
            texts.append(tokenizer.decode(hypothesis[:limit], skip_special_tokens=True))
            loops += len(hypothesis) >= limit
    model.train()
    wer = corpus_wer(labels, texts, [None] * len(labels))
    return HeldOutCheck(wer if wer is not None else 0.0, loops)
