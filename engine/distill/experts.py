"""DistilWhisper's language experts (CLSR: Conditional Language-Specific Routing, arXiv 2311.01070).

Every encoder and decoder layer keeps its frozen feed-forward block (the shared path) and gets, per target
language, a trainable copy of it (the expert) and a per-token gate on the block's input that mixes the two:
`out = (1 - g) * shared(x) + g * expert(x)`. What follows the reference code (naver/multilingual-distilwhisper,
`model/DistilWhisper.py` unless named otherwise):

- both the encoder and the decoder layers get CLSR (`DistilWhisperEncoderLayer`, `DistilWhisperDecoderLayer`);
- the gate reads the feed-forward block's input, i.e. the hidden state after `final_layer_norm`, through
  `Linear(d_model, 64) -> ReLU -> Linear(64, 1, bias=False)` with dropout 0.1 on its input (`CLSRFFN`);
- gate at training: soft, `sigmoid(G + alpha * N(0, 1))` with `alpha = 5 * min(progress, 1)`, progress being
  the step over the run's max steps (`CLSRFFN.forward`, `DistillationTrainer.compute_loss`); no straight-through
  estimator. Gate at evaluation: hard, `G >= 0` (`CLSRFFN.forward`, "hard gate at decoding");
- experts start as copies of the shared block (`from_whisper` -> `FFN.set_from_pretrained`); gates start with
  `gate_in ~ N(0, 0.01)`, zero bias, `gate_out = 0` (`CLSRFFN.__init__`, `_restart_gates`). So before any
  training the evaluation gate (`0 >= 0`) sends every token to its expert, which computes what the shared block
  does. (In the reference, `post_init()` of the encoder and decoder runs after `CLSRFFN.__init__` and likely
  redraws those gate weights as N(0, init_std); we keep the init the code spells out.);
- with probability `skip_gate_prob` a layer's whole batch takes the shared path during training, its gate
  values still counted by the budget (`CLSRFFN.forward`; 0.2 from `train_utils.load_student_model`);
- budget loss `|mean of every gate value of every layer - budget|` (`DistilWhisperForConditionalGeneration
  .forward` gives the mean, `DistillationTrainer.compute_loss` the absolute difference), added to the task loss;
  the mean counts every position, encoder frames (which outnumber text tokens) and decoder padding included;
- only experts and gates train (`train_utils.freeze_original_whisper_parameters`).

Deviations, and why:
- a batch may mix languages (`set_languages`, one id per example; the reference sets one language per batch,
  `lang_batch_sampler.py`). Examples without an expert take the shared path and add no gate values to the
  budget (the reference never has such examples in a CLSR batch);
- progress 0 gives noise 0 (the reference's `if self.training and step_proportion` gives the full 5 at step 0,
  a truthiness slip); progress unset (None) gives the full scale, as the reference's `else` branch;
- the mix is made inside transformers' own layer forward (hooks on `fc1` and `fc2`, see `LanguageExperts`), so
  the block's output dropout (`config.dropout`) falls on the mix; the reference drops each path separately
  (shared at `config.dropout`, expert at 0.3). The expert's own 0.3 is applied before the mix, so with
  `config.dropout == 0` (this project's students) the two agree;
- the skip draw uses torch's generator (not `random.uniform`), so gradient checkpointing's replay repeats it;
- `ExpertOptions.stacks` may leave out a stack (default both, as the reference). Distillation's CPU route
  freezes the encoder and trains on its cached outputs, so encoder experts could not train there; it gives
  the decoder layers experts only (engine.distill.train);
- the reference's unused options (`clsr_residual`, `is_warm_up`, forced off in the trainer) are left out.

Use: `add_experts(student, ["fr", "de"])`; per batch `set_languages(student, language_ids(student, langs))`
and `set_progress(student, step / max_steps)`; loss `task + budget_loss(student)`; optimizer on
`trainable_parameters(student)`; `save_experts` / `load_experts`; `merged_for_language` for CTranslate2.
"""
from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn
from transformers import WhisperForConditionalGeneration, WhisperProcessor

from engine.distill.config import GATE_BUDGET
from engine.io.atomic import atomic_path

EXPERTS_JSON = "experts.json"
EXPERTS_WEIGHTS = "experts.safetensors"
CHILD = "language_experts"  # the module added to every layer; its weights are the trainable ones
NO_EXPERT = -1  # language id of an example that takes the shared path
GATE_MODES = ("auto", "shared", "expert")
STACKS = ("encoder", "decoder")


@dataclass(frozen=True)
class ExpertOptions:
    """CLSR settings; defaults are the reference's (file and name in each comment)."""
    languages: tuple[str, ...] = ()
    stacks: tuple[str, ...] = STACKS  # the reference's: every encoder and decoder layer gets experts
    budget: float = GATE_BUDGET  # train_distilwhisper.py --gate_budget default
    budget_weight: float = 1.0  # DistillationTrainer.compute_loss: student_loss.mean() + student_gate_loss
    gate_dim: int = 64  # DistilWhisperConfig clsr_gate_dim
    noise_scale: float = 5.0  # CLSRFFN.forward: alpha = min(step_proportion, 1) * 5
    skip_gate_prob: float = 0.2  # train_utils.load_student_model: convert_to_distil_whisper(skip_gate_prob=0.2)
    gate_dropout: float = 0.1  # CLSRFFN.forward: dropout(input, p=0.1) before gate_in
    expert_dropout: float = 0.3  # CLSRFFN.forward: self.proj[uid](..., dropout=0.3)


@dataclass
class Routing:
    """What every layer's experts read for the current batch (one object shared by all layers)."""
    options: ExpertOptions
    lang_ids: torch.Tensor | None = None  # (batch,) index into options.languages, NO_EXPERT for none
    mode: str = "auto"  # auto: soft and noisy in training, hard at eval; shared / expert: forced path
    progress: float | None = None  # training step / max steps, for the gate noise; None: full noise

    def rows(self, batch: int, device: torch.device) -> dict[str, torch.Tensor]:
        """Rows of a `batch`-row input per language with an expert. A batch that is a multiple of the ids
        (generate's beams, `repeat_interleave`d per example) repeats each id."""
        if self.lang_ids is None or self.mode == "shared":
            return {}
        ids = self.lang_ids.to(device)
        if batch != len(ids):
            if batch % len(ids):
                raise ValueError(f"{len(ids)} language ids for a batch of {batch}")
            ids = ids.repeat_interleave(batch // len(ids))
        found = {lang: torch.nonzero(ids == k).flatten() for k, lang in enumerate(self.options.languages)}
        return {lang: rows for lang, rows in found.items() if len(rows)}


class Gate(nn.Module):
    """`Linear(d, gate_dim) -> ReLU -> Linear(gate_dim, 1)`: one logit per token (reference `CLSRFFN` gate_in/out)."""

    def __init__(self, d_model: int, gate_dim: int, like: torch.Tensor):
        super().__init__()
        self.gate_in = nn.Linear(d_model, gate_dim, device=like.device, dtype=like.dtype)
        self.gate_out = nn.Linear(gate_dim, 1, bias=False, device=like.device, dtype=like.dtype)
        with torch.no_grad():  # CLSRFFN.__init__ / _restart_gates
            nn.init.normal_(self.gate_in.weight, mean=0.0, std=0.01)
            nn.init.zeros_(self.gate_in.bias)
            nn.init.zeros_(self.gate_out.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate_out(torch.relu(self.gate_in(x)))


class Expert(nn.Module):
    """A language's feed-forward block: a copy of the layer's fc1 -> activation -> fc2, with the reference's
    dropouts (activation dropout as the layer's, output dropout `expert_dropout`)."""

    def __init__(self, layer: nn.Module, dropout: float):
        super().__init__()
        self.fc1, self.fc2 = copy.deepcopy(layer.fc1), copy.deepcopy(layer.fc2)
        self.activation = copy.deepcopy(layer.activation_fn)  # stateless; copied so the layer is not a child twice
        self.activation_dropout, self.dropout = layer.activation_dropout, dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.dropout(self.activation(self.fc1(x)), self.activation_dropout, self.training)
        return nn.functional.dropout(self.fc2(h), self.dropout, self.training)


class LanguageExperts(nn.Module):
    """One layer's experts and gates, added to the layer as `language_experts`. transformers' layer forward
    runs unchanged: a pre-hook on `fc1` keeps the block's input (after `final_layer_norm`), a hook on `fc2`
    replaces the shared output by the mix on the rows that have an expert. The layer's fc1/fc2 keep their
    names, so the base weights still load as a plain Whisper."""

    def __init__(self, layer: nn.Module, routing: Routing):
        super().__init__()
        options, weight = routing.options, layer.fc1.weight
        self.experts = nn.ModuleDict({lang: Expert(layer, options.expert_dropout) for lang in options.languages})
        self.gates = nn.ModuleDict({lang: Gate(weight.shape[1], options.gate_dim, weight) for lang in options.languages})
        self.requires_grad_(True)  # the copies inherit the frozen layer's flags
        self.train(layer.training)  # a new module trains; an eval model's experts must not
        self.routing = routing
        self.last_gates: torch.Tensor | None = None  # gate values of the last forward's routed tokens
        self._input: torch.Tensor | None = None
        layer.fc1.register_forward_pre_hook(self.keep_input)
        layer.fc2.register_forward_hook(self.mix)

    def keep_input(self, module: nn.Module, args: tuple) -> None:
        self._input = args[0]

    def mix(self, module: nn.Module, args: tuple, shared: torch.Tensor) -> torch.Tensor | None:
        """`(1 - g) * shared + g * expert` on each language's rows; None (fc2's output as is) when no row has one."""
        x, self._input = self._input, None
        self.last_gates = None
        groups = self.routing.rows(shared.shape[0], shared.device)
        if not groups:
            return None
        skip = self.training and self.routing.mode == "auto" and bool(torch.rand(()) < self.routing.options.skip_gate_prob)
        out, gates = shared.clone(), []
        for lang, rows in groups.items():
            g = self._gate(lang, x[rows])
            gates.append(g.flatten())
            if not skip:
                out[rows] = (1 - g) * shared[rows] + g * self.experts[lang](x[rows])
        self.last_gates = torch.cat(gates)
        return out

    def _gate(self, lang: str, x: torch.Tensor) -> torch.Tensor:
        """(rows, T, 1) gate values: 1 when forced to the expert; soft with noise in training, hard at eval."""
        routing = self.routing
        if routing.mode == "expert":
            return x.new_ones(*x.shape[:-1], 1)
        logit = self.gates[lang](nn.functional.dropout(x, routing.options.gate_dropout, self.training))
        if not self.training:
            return (logit >= 0).to(x.dtype)
        progress = 1.0 if routing.progress is None else min(routing.progress, 1.0)
        return torch.sigmoid(logit + routing.options.noise_scale * progress * torch.randn_like(logit))


def _named_layers(model: WhisperForConditionalGeneration, stacks: Sequence[str]) -> Iterator[tuple[str, nn.Module]]:
    """(state-dict prefix, layer) for every layer of `stacks` (encoder layers first)."""
    for stack in STACKS:
        if stack in stacks:
            for i, layer in enumerate(getattr(model.model, stack).layers):
                yield f"model.{stack}.layers.{i}", layer


def _expert_layers(model: WhisperForConditionalGeneration) -> list[tuple[str, nn.Module]]:
    """(prefix, layer) of the layers that have experts."""
    return list(_named_layers(model, routing(model).options.stacks))


def _experts(model: WhisperForConditionalGeneration) -> list[LanguageExperts]:
    return [getattr(layer, CHILD) for _, layer in _expert_layers(model)]


def has_experts(model: torch.nn.Module) -> bool:
    return isinstance(getattr(model, "expert_routing", None), Routing)


def routing(model: WhisperForConditionalGeneration) -> Routing:
    """The model's routing state (options, languages of the batch, gate mode, progress)."""
    if not has_experts(model):
        raise ValueError("the model has no language experts (add_experts)")
    return model.expert_routing


def add_experts(model: WhisperForConditionalGeneration, languages: Sequence[str],
                options: ExpertOptions | None = None) -> WhisperForConditionalGeneration:
    """Give every layer of `options.stacks` (default: every encoder and decoder layer) one expert and gate per
    language, in place, and freeze everything else. Until `set_languages`, every example takes the shared path
    (the reference's no-language)."""
    if getattr(model, "expert_routing", None) is not None:
        raise ValueError("the model already has language experts")
    if not languages or len(set(languages)) != len(languages):
        raise ValueError(f"experts need distinct languages, not {list(languages)}")
    state = Routing(replace(options or ExpertOptions(), languages=tuple(languages)))
    stacks = state.options.stacks
    if not stacks or len(set(stacks)) != len(stacks) or not set(stacks) <= set(STACKS):
        raise ValueError(f"experts go on distinct stacks of {STACKS}, not {list(stacks)}")
    model.requires_grad_(False)
    for _, layer in _named_layers(model, stacks):
        layer.add_module(CHILD, LanguageExperts(layer, state))
    model.expert_routing = state
    return model


def language_ids(model: WhisperForConditionalGeneration, languages: Sequence[str | None]) -> torch.Tensor:
    """Per-example ids for `set_languages`: a language's index, NO_EXPERT for None or one without an expert."""
    known = routing(model).options.languages
    return torch.tensor([known.index(lang) if lang in known else NO_EXPERT for lang in languages], dtype=torch.long)


def set_languages(model: WhisperForConditionalGeneration, lang_ids: torch.Tensor | None) -> None:
    """Route the next batches: example i takes language `lang_ids[i]`'s expert (NO_EXPERT: the shared path);
    None: every example shared."""
    if lang_ids is not None and (lang_ids.dim() != 1 or lang_ids.dtype != torch.long):
        raise ValueError("language ids are a 1-D LongTensor, one per example")
    routing(model).lang_ids = lang_ids


def route_languages(model: torch.nn.Module, languages: Sequence[str | None]) -> None:
    """`set_languages` by language names, one per example; a model without experts is left as it is."""
    if has_experts(model):
        set_languages(model, language_ids(model, languages))


def set_progress(model: WhisperForConditionalGeneration, fraction: float | None) -> None:
    """Training progress (step / max steps): scales the gate noise from 0 to `noise_scale`."""
    routing(model).progress = fraction


@contextlib.contextmanager
def gate_mode(model: WhisperForConditionalGeneration, mode: str) -> Iterator[None]:
    """Within the block every gate is as `mode` says: auto (the reference's), shared (every token takes the
    frozen block: the untouched model, exactly) or expert (every routed token takes its expert, g = 1)."""
    if mode not in GATE_MODES:
        raise ValueError(f"gate mode {mode!r} is not one of {GATE_MODES}")
    state = routing(model)
    before, state.mode = state.mode, mode
    try:
        yield
    finally:
        state.mode = before


def force_shared(model: WhisperForConditionalGeneration) -> contextlib.AbstractContextManager[None]:
    """Every gate takes the shared path: the model computes what it computed before `add_experts`."""
    return gate_mode(model, "shared")


def force_experts(model: WhisperForConditionalGeneration) -> contextlib.AbstractContextManager[None]:
    """Every token of an example with an expert takes the expert (what `merged_for_language` folds in)."""
    return gate_mode(model, "expert")


def recorded_gates(model: WhisperForConditionalGeneration) -> torch.Tensor | None:
    """Every gate value of the last forward (all layers, routed tokens), or None when no token was routed."""
    gates = [e.last_gates for e in _experts(model) if e.last_gates is not None]
    return torch.cat(gates) if gates else None


def budget_loss(model: WhisperForConditionalGeneration) -> torch.Tensor:
    """`budget_weight * |mean gate - budget|` over the last forward's gates, to add to the task loss (reference:
    the model's gate_loss is the mean over every layer's gate values, `DistillationTrainer.compute_loss` takes
    `torch.abs(mean - gate_budget)`). 0 when no example had an expert."""
    options, gates = routing(model).options, recorded_gates(model)
    if gates is None:
        return next(model.parameters()).new_zeros(())
    return options.budget_weight * (gates.float().mean() - options.budget).abs()


def expert_state_dict(model: WhisperForConditionalGeneration) -> dict[str, torch.Tensor]:
    """The experts' and gates' weights (what trains)."""
    return {k: v for k, v in model.state_dict().items() if f".{CHILD}." in k}


def base_state_dict(model: WhisperForConditionalGeneration) -> dict[str, torch.Tensor]:
    """The plain Whisper's weights (shared blocks included), as before `add_experts`."""
    return {k: v for k, v in model.state_dict().items() if f".{CHILD}." not in k}


@torch.no_grad()
def gate_decisions(model: WhisperForConditionalGeneration, lang: str, decoder_input_ids: torch.Tensor,
                   **inputs: torch.Tensor | tuple) -> list[torch.Tensor]:
    """Per layer with experts (encoder layers, then decoder layers), the evaluation gate of every token of a
    batch run all in `lang`: True where the token takes the expert. `inputs`: `input_features` or
    `encoder_outputs`. The model's mode, languages and train flag are restored."""
    state = routing(model)
    saved, training = (state.lang_ids, state.mode), model.training
    try:
        model.eval()
        state.mode = "auto"
        set_languages(model, language_ids(model, [lang] * len(decoder_input_ids)))
        model(decoder_input_ids=decoder_input_ids, **inputs)
        return [e.last_gates.bool() for e in _experts(model)]
    finally:
        state.lang_ids, state.mode = saved
        model.train(training)


def majority_choices(decisions: Sequence[torch.Tensor]) -> list[bool]:
    """Per layer, whether most tokens take the expert: the merge's best single choice per layer."""
    return [bool(d.float().mean() >= 0.5) for d in decisions]


def merge_error(decisions: Sequence[torch.Tensor], use_expert: Sequence[bool]) -> float:
    """Fraction of (layer, token) gate decisions a merge with `use_expert` per layer gets wrong."""
    wrong = sum(int((d != take).sum()) for d, take in zip(decisions, use_expert, strict=True))
    return wrong / max(sum(d.numel() for d in decisions), 1)


def merged_for_language(model: WhisperForConditionalGeneration, lang: str,
                        use_expert: Sequence[bool] | None = None) -> WhisperForConditionalGeneration:
    """A plain Whisper for `lang` (for CTranslate2): each layer with experts has `lang`'s expert as its
    feed-forward block where `use_expert` says so (default every such layer), the shared block elsewhere.

    Exact for what it folds: with every layer on the expert it computes what the experts model computes under
    `force_experts`, with none the untouched model; when every evaluation gate agrees with its layer's choice
    (untrained gates: all on the expert) it equals the experts model at evaluation. What is lost is the gate's
    per-token choice (hard, `G >= 0`): a token whose gate disagrees with its layer takes the other block, and
    the difference flows on. `gate_decisions` + `majority_choices` pick per layer from a sample, `merge_error`
    gives the fraction of decisions the merge overrides."""
    if lang not in routing(model).options.languages:
        raise ValueError(f"no expert for {lang!r}")
    layers = _expert_layers(model)
    use_expert = [True] * len(layers) if use_expert is None else list(use_expert)
    if len(use_expert) != len(layers):
        raise ValueError(f"{len(use_expert)} choices for {len(layers)} layers")
    state = base_state_dict(model)
    for (prefix, layer), take in zip(layers, use_expert):
        if take:
            expert = getattr(layer, CHILD).experts[lang]
            state.update({f"{prefix}.{k}": v for k, v in expert.state_dict().items()})  # fc1.*, fc2.*
    plain = WhisperForConditionalGeneration(copy.deepcopy(model.config))
    plain.load_state_dict(state)
    plain.generation_config = copy.deepcopy(model.generation_config)
    weight = model.model.encoder.conv1.weight
    return plain.to(device=weight.device, dtype=weight.dtype).eval()


def save_experts(model: WhisperForConditionalGeneration, processor: WhisperProcessor | None,
                 out_dir: str | Path) -> Path:
    """Write atomically: the plain Whisper (config and base weights: `from_pretrained` loads it without the
    experts), the processor when given, `experts.json` (the options) and `experts.safetensors`."""
    from safetensors.torch import save_file

    options = routing(model).options
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(tmp, state_dict=base_state_dict(model), safe_serialization=True)
        if processor is not None:
            processor.save_pretrained(tmp)
            processor.feature_extractor.save_pretrained(tmp)  # preprocessor_config.json, for other readers
        save_file({k: v.detach().contiguous() for k, v in expert_state_dict(model).items()}, str(tmp / EXPERTS_WEIGHTS))
        (tmp / EXPERTS_JSON).write_text(json.dumps(asdict(options), indent=1))
    return Path(out_dir)


def load_experts(out_dir: str | Path) -> WhisperForConditionalGeneration:
    """The model `save_experts` wrote, experts and gates included (every weight checked present)."""
    from safetensors.torch import load_file

    out_dir = Path(out_dir)
    spec = json.loads((out_dir / EXPERTS_JSON).read_text())
    options = ExpertOptions(**{**spec, "languages": tuple(spec["languages"]), "stacks": tuple(spec["stacks"])})
    model = WhisperForConditionalGeneration.from_pretrained(out_dir)
    add_experts(model, options.languages, options)
    weights = load_file(str(out_dir / EXPERTS_WEIGHTS))
    expected = set(expert_state_dict(model))
    if set(weights) != expected:
        raise ValueError(f"{out_dir / EXPERTS_WEIGHTS}: missing {sorted(expected - set(weights))[:3]}, "
                         f"unexpected {sorted(set(weights) - expected)[:3]}")
    model.load_state_dict(weights, strict=False)
    return model


def trainable_parameters(model: WhisperForConditionalGeneration) -> list[nn.Parameter]:
    """The parameters to give the optimizer: the experts' and gates'."""
    return [p for p in model.parameters() if p.requires_grad]


def parameter_counts(model: WhisperForConditionalGeneration) -> dict[str, int]:
    """base: the plain Whisper; trainable: every expert and gate; per_language: one language's experts and
    gates; inference: what a one-language run uses with its gates (base + per_language). A merged model has
    the base's count."""
    from engine.distill.student import parameter_count

    experts = sum(v.numel() for v in expert_state_dict(model).values())
    per_language = experts // len(routing(model).options.languages)  # every language has the same shapes
    base = parameter_count(model) - experts
    return {"base": base, "trainable": sum(p.numel() for p in trainable_parameters(model)),
            "per_language": per_language, "inference": base + per_language}
