"""DistilWhisper's language experts (engine.distill.experts) on a tiny random Whisper: the shared path is the
untouched model, only experts and gates train, the budget loss, mixed-language batches, save/load, the merge."""
from __future__ import annotations

import copy

import pytest
import torch
from transformers import WhisperConfig, WhisperForConditionalGeneration

from engine.distill.experts import (
    CHILD, NO_EXPERT, ExpertOptions, LanguageExperts, Routing, add_experts, budget_loss, force_experts,
    force_shared, gate_decisions, language_ids, load_experts, majority_choices, merge_error, merged_for_language,
    parameter_counts, recorded_gates, save_experts, set_languages, set_progress, trainable_parameters,
)
from engine.distill.student import parameter_count

LANGS = ["fr", "de"]
NO_SKIP = ExpertOptions(skip_gate_prob=0.0)  # deterministic training steps


def tiny_whisper(seed: int = 0) -> WhisperForConditionalGeneration:
    torch.manual_seed(seed)
    config = WhisperConfig(
        vocab_size=64, num_mel_bins=8, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_source_positions=8,
        max_target_positions=16, pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=3,
        suppress_tokens=None, begin_suppress_tokens=None, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
    return WhisperForConditionalGeneration(config).eval()


def batch(rows: int = 3, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"input_features": torch.randn(rows, 8, 16, generator=g),
            "decoder_input_ids": torch.randint(4, 64, (rows, 5), generator=g)}


def perturb(model: WhisperForConditionalGeneration, gates: bool = False, seed: int = 2) -> None:
    """Make the experts (and, if asked, the gates) differ from their initial copies, so paths can be told apart."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if f"{CHILD}.experts." in name or (gates and f"{CHILD}.gates." in name):
                p.add_(torch.randn_like(p) * 0.5)


def logits(model: WhisperForConditionalGeneration, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return model(**inputs).logits


@pytest.fixture
def pair() -> tuple[WhisperForConditionalGeneration, WhisperForConditionalGeneration]:
    """(the untouched model, a copy with perturbed fr and de experts)."""
    original = tiny_whisper()
    model = add_experts(copy.deepcopy(original), LANGS, NO_SKIP)
    perturb(model)
    return original, model


def test_surgery_keeps_the_untouched_outputs_when_every_gate_takes_the_shared_path(pair):
    original, model = pair
    inputs = batch()
    set_languages(model, language_ids(model, ["fr", "de", "fr"]))
    with force_shared(model):
        assert torch.equal(logits(model, inputs), logits(original, inputs))
    assert not torch.allclose(logits(model, inputs), logits(original, inputs))  # the experts do change it
    set_languages(model, None)
    assert torch.equal(logits(model, inputs), logits(original, inputs))  # no language set: shared (reference)


def test_experts_start_as_copies_of_the_shared_block_and_gates_at_zero():
    original = tiny_whisper()
    model = add_experts(copy.deepcopy(original), LANGS)
    layer = model.model.decoder.layers[1]
    expert = getattr(layer, CHILD).experts["de"]
    assert torch.equal(expert.fc1.weight, layer.fc1.weight) and torch.equal(expert.fc2.bias, layer.fc2.bias)
    assert not getattr(layer, CHILD).gates["de"].gate_out.weight.any()
    inputs = batch()
    set_languages(model, language_ids(model, ["fr", "de", "fr"]))
    assert torch.allclose(logits(model, inputs), logits(original, inputs), atol=1e-6)  # copies: same function


def test_one_optimizer_step_changes_only_expert_and_gate_weights(pair):
    _, model = pair
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    set_languages(model, language_ids(model, ["fr", "de", None]))
    inputs = batch()
    out = model(**inputs, labels=inputs["decoder_input_ids"])
    (out.loss + budget_loss(model)).backward()
    optimizer = torch.optim.Adam(trainable_parameters(model), lr=1e-2)
    optimizer.step()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(f".{CHILD}." in k for k in changed)
    assert any(".experts.fr.fc1." in k for k in changed) and any(".experts.de.fc2." in k for k in changed)
    assert any(".gates.fr.gate_out." in k for k in changed)
    assert all(p.requires_grad == (f".{CHILD}." in n) for n, p in model.named_parameters())


def test_budget_loss_is_finite_differentiable_and_moves_gates_toward_the_budget():
    options = ExpertOptions(budget=0.1, skip_gate_prob=0.0)
    model = add_experts(tiny_whisper(), LANGS, options)
    model.train()
    set_progress(model, 0.0)  # no gate noise: the mean gate moves smoothly
    set_languages(model, language_ids(model, ["fr", "de", "fr"]))
    inputs = batch()
    optimizer = torch.optim.Adam(trainable_parameters(model), lr=0.05)
    means = []
    for _ in range(10):
        optimizer.zero_grad()
        model(**inputs)
        loss = budget_loss(model)
        assert torch.isfinite(loss) and loss.requires_grad
        gates = recorded_gates(model)
        assert torch.allclose(loss, (gates.mean() - 0.1).abs())  # the reference's |mean - budget|, weight 1
        means.append(float(gates.detach().mean()))
        loss.backward()
        optimizer.step()
    assert means[0] == pytest.approx(0.5, abs=0.05)  # zero-initialised gate_out: sigmoid(0)
    assert abs(means[-1] - 0.1) < 0.1 < abs(means[0] - 0.1)
    set_languages(model, language_ids(model, [None, None, None]))
    model(**inputs)
    assert float(budget_loss(model)) == 0.0  # nothing routed, nothing to budget


def test_a_mixed_language_batch_routes_each_example(pair):
    original, model = pair
    perturb(model, gates=True, seed=3)
    inputs = batch()
    set_languages(model, language_ids(model, ["fr", "it", "de"]))  # no Italian expert: shared
    mixed = logits(model, inputs)
    assert torch.allclose(mixed[1], logits(original, inputs)[1], atol=1e-6)
    for row, lang in ((0, "fr"), (2, "de")):
        alone = {k: v[row:row + 1] for k, v in inputs.items()}
        set_languages(model, language_ids(model, [lang]))
        assert torch.allclose(mixed[row], logits(model, alone)[0], atol=1e-5)
        assert not torch.allclose(mixed[row], logits(original, alone)[0], atol=1e-3)
    assert language_ids(model, ["de", None, "xx"]).tolist() == [1, NO_EXPERT, NO_EXPERT]


def test_language_ids_repeat_over_beams():
    state = Routing(ExpertOptions(languages=("fr", "de")), lang_ids=torch.tensor([1, NO_EXPERT]))
    rows = state.rows(4, torch.device("cpu"))  # generate's num_beams=2: each example's rows side by side
    assert list(rows) == ["de"] and rows["de"].tolist() == [0, 1]
    with pytest.raises(ValueError):
        state.rows(3, torch.device("cpu"))


def test_save_then_load_gives_identical_logits(pair, tmp_path):
    original, model = pair
    perturb(model, gates=True, seed=4)
    inputs = batch()
    ids = language_ids(model, ["de", "fr", None])
    set_languages(model, ids)
    expected = logits(model, inputs)
    out = save_experts(model, None, tmp_path / "experts")
    loaded = load_experts(out).eval()
    set_languages(loaded, ids)
    assert torch.equal(logits(loaded, inputs), expected)
    assert not any(p.requires_grad for n, p in loaded.named_parameters() if f".{CHILD}." not in n)
    plain = WhisperForConditionalGeneration.from_pretrained(out).eval()  # the base folder: the untouched model
    assert torch.equal(logits(plain, inputs), logits(original, inputs))


def test_merged_model_is_plain_whisper_matching_the_experts_it_folds(pair, tmp_path):
    original, model = pair
    inputs = batch()
    set_languages(model, language_ids(model, ["fr"] * 3))
    merged = merged_for_language(model, "fr")
    assert type(merged) is WhisperForConditionalGeneration
    assert not any(isinstance(m, LanguageExperts) for m in merged.modules())
    merged.save_pretrained(tmp_path / "merged")
    reloaded = WhisperForConditionalGeneration.from_pretrained(tmp_path / "merged").eval()
    with force_experts(model):
        assert torch.allclose(logits(reloaded, inputs), logits(model, inputs), atol=1e-6)
    # zero-initialised gate_out: the evaluation gate (G >= 0) takes the expert everywhere, so the merge is exact
    assert torch.allclose(logits(merged, inputs), logits(model, inputs), atol=1e-6)
    none = merged_for_language(model, "fr", [False] * 4)
    assert torch.allclose(logits(none, inputs), logits(original, inputs), atol=1e-6)


def test_merge_error_counts_the_gate_decisions_the_merge_gets_wrong(pair):
    _, model = pair
    inputs = batch()
    decisions = gate_decisions(model, "fr", **inputs)
    assert len(decisions) == 4 and all(d.all() for d in decisions)  # zero gate_out: every token to the expert
    assert merge_error(decisions, [True] * 4) == 0.0
    assert merge_error(decisions, [False] * 4) == 1.0
    perturb(model, gates=True, seed=5)
    decisions = gate_decisions(model, "fr", **inputs)
    best = majority_choices(decisions)
    assert 0.0 < merge_error(decisions, best) <= 0.5
    assert merge_error(decisions, best) <= min(merge_error(decisions, [c] * 4) for c in (True, False))
    assert model.expert_routing.lang_ids is None and not model.training  # restored


def test_parameter_counts():
    original = tiny_whisper()
    model = add_experts(copy.deepcopy(original), LANGS)
    counts = parameter_counts(model)
    assert counts["base"] == parameter_count(original)
    assert counts["trainable"] == 2 * counts["per_language"] == sum(p.numel() for p in trainable_parameters(model))
    assert counts["inference"] == counts["base"] + counts["per_language"]
    ffn = sum(layer.fc1.weight.numel() + layer.fc1.bias.numel() + layer.fc2.weight.numel() + layer.fc2.bias.numel()
              for layer in [*model.model.encoder.layers, *model.model.decoder.layers])
    gates = 4 * (32 * 64 + 64 + 64)  # four layers of Linear(32, 64) + Linear(64, 1, bias=False)
    assert counts["per_language"] == ffn + gates


def test_gates_are_hard_at_eval_soft_and_noisy_in_training_and_skipped_as_told(pair):
    original, model = pair
    perturb(model, gates=True, seed=6)
    inputs = batch()
    set_languages(model, language_ids(model, ["fr", "de", "fr"]))
    model(**inputs)
    hard = recorded_gates(model)
    assert set(hard.unique().tolist()) == {0.0, 1.0}
    model.train()
    model(**inputs)
    first = recorded_gates(model).detach()
    model(**inputs)
    assert len(first.unique()) > 2 and not torch.equal(first, recorded_gates(model))  # soft, noisy
    quiet = add_experts(copy.deepcopy(original), LANGS, ExpertOptions(gate_dropout=0.0, skip_gate_prob=1.0)).train()
    perturb(quiet, gates=True, seed=6)
    set_languages(quiet, language_ids(quiet, ["fr", "de", "fr"]))
    set_progress(quiet, 0.0)
    out = quiet(**inputs).logits
    gates = recorded_gates(quiet).detach()
    assert torch.allclose(out, original.train()(**inputs).logits)  # every layer skipped: the shared path
    quiet(**inputs)
    assert torch.equal(gates, recorded_gates(quiet))  # no noise at progress 0, gates still recorded


def test_each_token_takes_the_block_its_gate_picks(pair):
    _, model = pair
    perturb(model, gates=True, seed=7)
    layer = model.model.encoder.layers[1]
    experts = getattr(layer, CHILD)
    set_languages(model, language_ids(model, ["de", None]))
    x = torch.randn(2, 6, 32)
    with torch.no_grad():
        shared = torch.nn.functional.linear(layer.activation_fn(torch.nn.functional.linear(x, layer.fc1.weight, layer.fc1.bias)),
                                            layer.fc2.weight, layer.fc2.bias)
        experts.keep_input(layer.fc1, (x,))
        out = experts.mix(layer.fc2, (None,), shared)
        g = experts.last_gates.view(1, 6, 1)
        assert 0 < g.sum() < 6  # both blocks in use
        assert torch.equal(out[0], torch.where(g.bool(), experts.experts["de"](x[:1]), shared[:1])[0])
        assert torch.equal(out[1], shared[1])


def test_decoder_only_experts_leave_the_encoder_untouched_and_round_trip(tmp_path):
    original = tiny_whisper()
    options = ExpertOptions(stacks=("decoder",), skip_gate_prob=0.0)
    model = add_experts(copy.deepcopy(original), LANGS, options)
    assert not any(hasattr(layer, CHILD) for layer in model.model.encoder.layers)
    assert all(hasattr(layer, CHILD) for layer in model.model.decoder.layers)
    perturb(model, gates=True, seed=8)
    inputs = batch()
    set_languages(model, language_ids(model, ["fr", "de", "fr"]))
    with torch.no_grad():
        assert torch.equal(model.model.encoder(inputs["input_features"]).last_hidden_state,
                           original.model.encoder(inputs["input_features"]).last_hidden_state)
    assert len(gate_decisions(model, "fr", **inputs)) == 2 and len(merged_for_language(model, "de").model.decoder.layers) == 2
    loaded = load_experts(save_experts(model, None, tmp_path / "experts")).eval()
    assert loaded.expert_routing.options.stacks == ("decoder",)
    set_languages(loaded, language_ids(loaded, ["fr", "de", "fr"]))
    assert torch.equal(logits(loaded, inputs), logits(model, inputs))
    with pytest.raises(ValueError, match="stacks"):
        add_experts(tiny_whisper(), LANGS, ExpertOptions(stacks=("decoder", "middle")))
