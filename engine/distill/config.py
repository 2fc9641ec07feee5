"""The options of a distillation run, in one frozen dataclass: the CLI, the Distill tab and run folders'
config.yaml read their defaults and names from here. No torch: the command line imports it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import yaml

PRECISIONS = ("auto", "no", "bf16", "fp16")
STUDENT_KINDS = ("pruned", "smaller", "window", "experts")
TEACHER_LAYER_KINDS = ("pruned", "window", "experts")  # kinds made of the teacher's own layers
WINDOWED_KINDS = ("window", "experts")  # kinds whose encoder sees WINDOW_SECONDS unless told
WINDOW_SECONDS = 10  # a window student's encoder window unless told (docs/student_windows.md: the teacher at 10 s on short clips)
FULL_WINDOW_SECONDS = 30  # Whisper's own
CHECKS_PER_RUN = 10  # held-out checks in a run without --eval-every
GATE_BUDGET = 0.5  # an experts student's gate budget unless told: the reference's (train_distilwhisper.py --gate_budget)


@dataclass(frozen=True)
class DistillConfig:
    # student: pruned = the teacher with fewer layers; smaller = a smaller pretrained Whisper (student_model);
    # window = the teacher's layers with a shorter encoder window (window_seconds); experts = a window student with
    # DistilWhisper's language experts (engine.distill.experts): only the experts and their gates train
    student: str = "window"  # the default: docs/students.md's recommendation (≥ 2x faster, no loops, best held-out WER)
    student_model: str | None = None  # smaller: tiny.en (bundled), a transformers id/folder or a CTranslate2 folder
    decoder_layers: int | None = None  # copied from evenly spaced source layers; None: 2 when pruned, else all
    encoder_layers: int | None = None  # None: all of the source's
    window_seconds: int | None = None  # the student's encoder window; None: WINDOW_SECONDS for window and experts, else 30 s
    languages: str | None = None  # experts: comma list of the target languages ("de,fr"), one expert each
    gate_budget: float | None = None  # experts: the mean gate value the budget loss aims at; None: GATE_BUDGET
    lora_rank: int | None = None  # LoRA adapters of this rank on the decoder train instead of its weights (not experts)
    # how long (max_steps wins over epochs)
    epochs: float = 10.0
    max_steps: int | None = None
    batch_size: int = 8  # clips per micro-batch and process
    grad_accum: int = 1  # micro-batches per optimiser step
    # optimiser: AdamW, linear warmup then linear decay to 0
    lr: float = 1e-4
    warmup_fraction: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    # loss: alpha_ce * CE + alpha_kl * T^2 * KL(teacher || student) over the teacher's top-k logits
    alpha_ce: float = 0.8
    alpha_kl: float = 1.0
    temperature: float = 2.0
    topk: int = 32
    # route: None = frozen encoder with cached outputs on CPU, trained encoder on CUDA
    freeze_encoder: bool | None = None
    precision: str = "auto"  # auto (bf16/fp16 on CUDA, fp32 on CPU) | no | bf16 | fp16
    # evaluation and checkpoints
    heldout_fraction: float = 0.1
    eval_every: int | None = None  # steps between held-out checks; None: CHECKS_PER_RUN evenly spread
    patience: int = 3  # stop after this many held-out checks without a better student (0: never stop early)
    evaluate: bool = True  # at the end, teacher vs student on the held-out clips (eval.json)
    checkpoint_every: int = 50
    seed: int = 0
    # data and teacher
    recipe: str | None = None  # None: WS/recipe.yaml (every ok clip without one)
    teacher: str | None = None  # CTranslate2 or transformers folder; None: the bundled Whisper base

    def __post_init__(self) -> None:
        positive = {"batch_size": self.batch_size, "grad_accum": self.grad_accum,
                    "checkpoint_every": self.checkpoint_every, "topk": self.topk,
                    **{name: getattr(self, name) for name in ("decoder_layers", "encoder_layers", "eval_every",
                                                              "lora_rank")
                       if getattr(self, name) is not None}}
        for name, value in positive.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
        if self.window > FULL_WINDOW_SECONDS:
            raise ValueError(f"window_seconds must be at most Whisper's {FULL_WINDOW_SECONDS}, not {self.window}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, not {self.max_steps}")
        if self.max_steps is None and not self.epochs > 0:
            raise ValueError(f"epochs must be above 0, not {self.epochs}")
        if not (self.lr > 0 and self.temperature > 0):
            raise ValueError("lr and temperature must be above 0")
        if self.alpha_ce < 0 or self.alpha_kl < 0 or self.alpha_ce + self.alpha_kl == 0:
            raise ValueError("loss weights must be ≥ 0 and not both 0")
        if not 0 <= self.heldout_fraction < 1 or not 0 <= self.warmup_fraction < 1:
            raise ValueError("heldout_fraction and warmup_fraction must be in [0, 1)")
        if self.student not in STUDENT_KINDS:
            raise ValueError(f"student must be one of {', '.join(STUDENT_KINDS)}, not {self.student!r}")
        self._check_experts()
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")

    def _check_experts(self) -> None:
        """languages are required for experts and refused otherwise, as is gate_budget."""
        if self.student != "experts":
            if self.languages is not None or self.gate_budget is not None:
                raise ValueError("languages and gate_budget are options of the experts student only")
            return
        if self.lora_rank is not None:
            raise ValueError("an experts student trains its experts, not LoRA adapters: no lora_rank")
        langs = self.language_list
        if not all(langs) or len(set(langs)) != len(langs):
            raise ValueError(f"the experts student needs distinct target languages (e.g. de,fr), not {self.languages!r}")
        if self.gate_budget is not None and not 0 <= self.gate_budget <= 1:
            raise ValueError(f"gate_budget must be in [0, 1], not {self.gate_budget}")

    @property
    def language_list(self) -> tuple[str, ...]:
        """`languages` as a tuple: "de, fr" → ("de", "fr"); ("",) when unset or empty."""
        return tuple(lang.strip() for lang in (self.languages or "").split(","))

    @property
    def window(self) -> int:
        """The student's encoder window in seconds."""
        return self.window_seconds or (WINDOW_SECONDS if self.student in WINDOWED_KINDS else FULL_WINDOW_SECONDS)

    def to_yaml(self) -> str:
        return yaml.safe_dump(asdict(self), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> DistillConfig:
        data = yaml.safe_load(text) or {}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown distill options: {', '.join(unknown)}")
        return cls(**data)
