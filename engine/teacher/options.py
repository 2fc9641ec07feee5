"""What the teacher pass is asked and what it returns: options, per-clip outputs, Whisper's constants."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.io.audio import MAX_SECONDS, SAMPLE_RATE

N_SAMPLES = int(MAX_SECONDS * SAMPLE_RATE)
N_FRAMES = 3000  # mel frames in 30 s
FRAMES_PER_SECOND = 50  # encoder output frames per second of audio
MAX_LABEL_TOKENS = 225  # Distil-Whisper's pseudo-label limit
NO_SPEECH_THRESHOLD = 0.6  # Whisper's rule: empty the label when no_speech_prob is above this...
LOGPROB_THRESHOLD = -1.0  # ...and the label's avg_logprob is below this
FIT_MIN_SECONDS = 10.0  # window="fit": at least this long (shorter windows start repetition loops)...
FIT_MARGIN_SECONDS = 5.0  # ...with at least this much silence after the clip, in 5 s steps
BACKENDS = ("ct2", "torch")  # CTranslate2 | transformers
DEVICES = ("auto", "cpu", "cuda")
WINDOWS = ("full", "fit")  # the model's own window | one fitted to each batch's longest clip (or seconds: "10")
TASKS = ("transcribe", "translate")
# Self-agreement sampling (the `agreement` group). Defaults, not tuned on any data: 4 samples give agreement_share in
# quarters and keep the group cheaper than the teacher pass (benchmarks/agreement_cost.py); temperature 1 over the
# whole vocabulary samples the teacher's own distribution, neither sharpened nor flattened
SAMPLES = 4
SAMPLE_TEMPERATURE = 1.0
SAMPLE_SLACK_TOKENS = 10  # a sample stops at twice the batch's longest label plus this: by then it disagrees anyway


@dataclass(frozen=True)
class TeacherOptions:
    # which model
    teacher: str | None = None  # CTranslate2 folder, HF folder or hub id; None = bundled Whisper base
    # where and how it runs
    backend: str = "ct2"  # ct2 (CTranslate2) | torch (transformers)
    device: str = "auto"  # auto | cpu | cuda
    compute_type: str = "auto"  # ct2: auto = int8 on CPU, float16 on CUDA; torch: auto = float32 on CPU, bf16/fp16 on CUDA
    threads: int = 0  # CPU threads; 0 = all cores
    batch_size: int = 8
    # decoding
    window: str = "full"  # full: the model's own window (Whisper's 30 s); fit: fitted to the clip (about 3x faster);
    # or a fixed window in seconds ("10"), never longer than the model's own; a longer clip is cut to it
    task: str = "transcribe"
    max_label_tokens: int = MAX_LABEL_TOKENS
    # self-agreement: transcripts sampled per clip from the same encoder output (0 = none; ct2 only)
    samples: int = 0
    temperature: float = SAMPLE_TEMPERATURE

    def __post_init__(self) -> None:
        if self.samples < 0 or (self.samples and self.backend != "ct2"):
            raise ValueError(f"samples must be 0, or at least 1 with the ct2 backend, not {self.samples}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be above 0, not {self.temperature}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be ct2 or torch, not {self.backend!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be auto, cpu or cuda, not {self.device!r}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.window not in WINDOWS and not 1 <= fixed_window_seconds(self.window) <= MAX_SECONDS:
            raise ValueError(f"window must be full, fit or seconds from 1 to {MAX_SECONDS:g}, not {self.window!r}")
        if self.task not in TASKS:
            raise ValueError(f"task must be transcribe or translate, not {self.task!r}")


@dataclass
class TeacherOutput:
    """Everything scores need from the teacher, for one clip."""

    text: str  # greedy pseudo-label ("" when the no-speech rule emptied it)
    tokens: list[int]  # text tokens of the greedy label, before the no-speech rule
    token_logprobs: np.ndarray  # (n,) log-probability of each text token
    token_entropies: np.ndarray  # (n,) entropy (nats) of the next-token distribution at each text token
    eot_logprob: float  # log-probability of end-of-text after the label (0 when the label hit the limit)
    hit_limit: bool  # decoding stopped at max_label_tokens, not at end-of-text: usually a repetition loop
    no_speech_prob: float
    lang: str  # language decoded with (given, or detected)
    detected_lang: str | None  # teacher's language ID (None for English-only teachers)
    lang_prob: float  # probability of detected_lang
    embedding: np.ndarray  # (d_model,) mean of encoder states over the clip's own frames
    samples: list[str] | None = None  # transcripts sampled from the same encoder output (TeacherOptions.samples)

    @property
    def avg_logprob(self) -> float:
        """Whisper's avg_logprob: summed log-probability of label + end-of-text over (n + 1)."""
        return float((self.token_logprobs.sum() + self.eot_logprob) / (len(self.token_logprobs) + 1))

    @property
    def emptied(self) -> bool:
        """True when Whisper's no-speech rule applies: the clip is taken as non-speech."""
        return no_speech(self.no_speech_prob, self.avg_logprob)


@dataclass
class Decoded:
    """What a backend's greedy decode returns for one clip."""

    tokens: list[int]  # generated ids, end-of-text excluded
    step_logits: np.ndarray  # (n + 1, vocab), or (n, vocab) when cut at the limit
    no_speech_prob: float


def no_speech(no_speech_prob: float, avg_logprob: float) -> bool:
    """Whisper's no-speech rule, for a label or a sampled transcript: the clip is taken as non-speech."""
    return no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob < LOGPROB_THRESHOLD


def sample_token_limit(longest_label: int, max_label_tokens: int) -> int:
    """Tokens a sampled transcript may run to: twice the batch's longest label plus SAMPLE_SLACK_TOKENS, at most
    the label limit. A sample that long already disagrees with every label of the batch (agreement_wer ≥ 1 for
    a label half its length), so a sampled loop costs that, not the whole limit."""
    return min(max_label_tokens, 2 * longest_label + SAMPLE_SLACK_TOKENS)


def fixed_window_seconds(window: str) -> float:
    """The seconds of a fixed window ("10" → 10.0); 0 for full, fit or anything else."""
    try:
        return float(window)
    except ValueError:
        return 0.0
