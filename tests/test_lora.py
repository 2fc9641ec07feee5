"""LoRA on a tiny random Whisper: adapters start as the identity, only they train, the merge is exact, and the
rank matches a parameter budget."""
from __future__ import annotations

import copy

import pytest
import torch
from transformers import WhisperForConditionalGeneration

from engine.distill.lora import add_lora, adapted_linears, merged, parameters_per_rank, rank_for
from tests.test_experts import batch, logits, tiny_whisper


def test_adapters_start_as_the_identity_and_only_they_train():
    original = tiny_whisper()
    model = add_lora(copy.deepcopy(original), rank=4)
    inputs = batch()
    assert torch.allclose(logits(model, inputs), logits(original, inputs))  # B starts at 0
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n and ".decoder." in n for n in trainable)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    model(**inputs).logits.pow(2).mean().backward()
    optimizer.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and changed <= trainable


def test_merge_is_exact_and_plain():
    model = add_lora(tiny_whisper(), rank=3)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    inputs = batch()
    expected = logits(model.eval(), inputs)
    plain = merged(model)
    assert type(plain) is WhisperForConditionalGeneration
    assert not any("lora_" in n for n, _ in plain.named_parameters())
    WhisperForConditionalGeneration(plain.config).load_state_dict(plain.state_dict())  # plain names, strict
    assert torch.allclose(logits(plain, inputs), expected, atol=1e-5)
    assert not torch.allclose(expected, logits(tiny_whisper(), inputs))  # the adapters did change the model


def test_rank_matches_a_budget():
    model = tiny_whisper()
    per_rank = parameters_per_rank(model)
    assert per_rank == sum(m.in_features + m.out_features for m in adapted_linears(model))
    assert len(adapted_linears(model)) == 2 * (8 + 2)  # 2 decoder layers: 8 attention projections, fc1, fc2
    assert rank_for(model, 5 * per_rank) == 5 and rank_for(model, 1) == 1
    assert rank_for(model, 10**9) == 32  # never wider than the narrowest adapted layer
    adapted = add_lora(copy.deepcopy(model), rank_for(model, 5 * per_rank))
    assert sum(p.numel() for p in adapted.parameters() if p.requires_grad) == 5 * per_rank
    with pytest.raises(ValueError, match="rank"):
        add_lora(model, 0)
