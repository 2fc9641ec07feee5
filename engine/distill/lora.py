"""LoRA adapters on a student (peft): the low-rank baseline the language-experts student is measured against.

Adapters go on the decoder's attention projections (self and cross: q, k, v, out) and its feed-forward
block (fc1, fc2), the modules the experts student trains on the CPU route; the rest stays frozen. `rank_for`
picks the rank whose trainable parameters come closest to a budget (DistilWhisper compares CLSR with LoRA
at matched trainable parameters). `merged` folds the adapters back into plain Linear layers, so the trained
student saves, loads and converts to CTranslate2 like any other: a merge is exact (W + B·A·scale).
"""
from __future__ import annotations

import torch
from transformers import WhisperForConditionalGeneration

TARGETS = r"model\.decoder\.layers\.\d+\.((self_attn|encoder_attn)\.(q_proj|k_proj|v_proj|out_proj)|fc1|fc2)"
LORA = "lora_"  # in the name of every adapter weight
ALPHA_PER_RANK = 2.0  # lora_alpha = 2 · rank: peft's update scale alpha / r stays 2 whatever the rank


def adapted_linears(model: WhisperForConditionalGeneration) -> list[torch.nn.Linear]:
    """The Linear layers TARGETS names."""
    import re

    return [m for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and re.fullmatch(TARGETS, name)]


def parameters_per_rank(model: WhisperForConditionalGeneration) -> int:
    """Trainable parameters each unit of rank adds: A (r × in) and B (out × r) on every adapted layer."""
    return sum(m.in_features + m.out_features for m in adapted_linears(model))


def rank_for(model: WhisperForConditionalGeneration, budget: int) -> int:
    """The rank (at least 1, at most the smallest adapted width) whose trainable parameters come closest to `budget`."""
    widest = min(min(m.in_features, m.out_features) for m in adapted_linears(model))
    return int(min(widest, max(1, round(budget / parameters_per_rank(model)))))


def add_lora(model: WhisperForConditionalGeneration, rank: int) -> WhisperForConditionalGeneration:
    """`model` with rank-`rank` adapters on TARGETS, in place (it stays a Whisper: peft's injection, not its
    wrapper); only the adapters train."""
    from peft import LoraConfig, inject_adapter_in_model

    if rank < 1:
        raise ValueError(f"a LoRA rank is at least 1, not {rank}")
    config = LoraConfig(r=rank, lora_alpha=ALPHA_PER_RANK * rank, target_modules=TARGETS, lora_dropout=0.0,
                        bias="none")
    inject_adapter_in_model(config, model)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(LORA in name)
    return model


def has_lora(model: torch.nn.Module) -> bool:
    return any(LORA in name for name, _ in model.named_parameters())


def merged(model: WhisperForConditionalGeneration) -> WhisperForConditionalGeneration:
    """The adapters folded into their layers, in place: a plain Whisper computing what the adapted one did."""
    from peft.tuners.lora import LoraLayer

    adapted = [(name, m) for name, m in model.named_modules() if isinstance(m, LoraLayer)]
    for name, module in adapted:
        module.merge()
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, module.get_base_layer())
    return model
