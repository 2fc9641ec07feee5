"""The teacher pass: one encoder pass per clip → greedy pseudo-label, token statistics, language, embedding.

Clips are padded to Whisper's 30 s window and batched; the encoder output feeds language
identification, greedy decoding and the mean-pooled audio embedding, so nothing runs twice.
Two backends share that logic: CTranslate2 (int8 on CPU, float16 on CUDA; a Hugging Face teacher
is converted to it once and cached) and PyTorch/transformers (any HF Whisper; bf16/fp16 on CUDA).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.atomic import atomic_path
from engine.audio import MAX_SECONDS, SAMPLE_RATE
from engine.models import DEFAULT_TEACHER, cache_dir, default_teacher_dir

N_SAMPLES = int(MAX_SECONDS * SAMPLE_RATE)
N_FRAMES = 3000  # mel frames in 30 s
FRAMES_PER_SECOND = 50  # encoder output frames per second of audio
MAX_LABEL_TOKENS = 225  # Distil-Whisper's pseudo-label limit
NO_SPEECH_THRESHOLD = 0.6  # Whisper's rule: empty the label when no_speech_prob is above this...
LOGPROB_THRESHOLD = -1.0  # ...and the label's avg_logprob is below this
FIT_MIN_SECONDS = 10.0  # window="fit": at least this long (shorter windows start repetition loops)...
FIT_MARGIN_SECONDS = 5.0  # ...with at least this much silence after the clip, in 5 s steps
PREPROCESSOR = "preprocessor_config.json"  # a model folder's feature settings: its window is chunk_length seconds


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

    def __post_init__(self) -> None:
        if self.backend not in ("ct2", "torch"):
            raise ValueError(f"backend must be ct2 or torch, not {self.backend!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, not {self.device!r}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.window not in ("full", "fit") and not 1 <= fixed_window_seconds(self.window) <= MAX_SECONDS:
            raise ValueError(f"window must be full, fit or seconds from 1 to {MAX_SECONDS:g}, not {self.window!r}")
        if self.task not in ("transcribe", "translate"):
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

    @property
    def avg_logprob(self) -> float:
        """Whisper's avg_logprob: summed log-probability of label + end-of-text over (n + 1)."""
        return float((self.token_logprobs.sum() + self.eot_logprob) / (len(self.token_logprobs) + 1))

    @property
    def emptied(self) -> bool:
        """True when Whisper's no-speech rule applies: the clip is taken as non-speech."""
        return self.no_speech_prob > NO_SPEECH_THRESHOLD and self.avg_logprob < LOGPROB_THRESHOLD


def fixed_window_seconds(window: str) -> float:
    """The seconds of a fixed window ("10" → 10.0); 0 for full, fit or anything else."""
    try:
        return float(window)
    except ValueError:
        return 0.0


def model_window_seconds(model_dir: str | Path) -> float:
    """The window a model folder was made for: its preprocessor config's chunk_length (a window student's
    shorter one), else Whisper's 30 s."""
    path = Path(model_dir) / PREPROCESSOR
    config = json.loads(path.read_text()) if path.is_file() else {}
    return float(config.get("chunk_length", MAX_SECONDS))


def resolve_teacher_dir(teacher: str | None) -> Path:
    """A CTranslate2 folder for `teacher`, converting a Hugging Face model once if needed."""
    if teacher in (None, "", DEFAULT_TEACHER):
        return default_teacher_dir()
    path = Path(teacher).expanduser()
    if (path / "model.bin").is_file():
        return path
    if path.exists() and not (path / "config.json").is_file():
        raise ValueError(f"{path} is neither a CTranslate2 folder (model.bin) nor a Hugging Face one (config.json)")
    source = str(path.resolve()) if path.exists() else teacher
    target = cache_dir() / "ct2" / ("hf-" + hashlib.sha1(source.encode()).hexdigest()[:12])
    if not (target / "model.bin").is_file():
        from ctranslate2.converters import TransformersConverter

        with atomic_path(target) as tmp:
            TransformersConverter(source, copy_files=["tokenizer.json", "preprocessor_config.json"]).convert(
                str(tmp), quantization="float16"
            )
    return target


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


@dataclass
class Decoded:
    """What a backend's greedy decode returns for one clip."""

    tokens: list[int]  # generated ids, end-of-text excluded
    step_logits: np.ndarray  # (n + 1, vocab), or (n, vocab) when cut at the limit
    no_speech_prob: float


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
        results = self._decode(encoded, [self.prompt(lang) for lang in decode_langs])
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
        return outputs

    def _encode(self, features: np.ndarray):
        raise NotImplementedError

    def _detect_language(self, encoded) -> list[tuple[str, float]]:
        raise NotImplementedError

    def _decode(self, encoded, prompts: list[list[int]]) -> list[Decoded]:
        raise NotImplementedError

    def _states(self, encoded) -> np.ndarray:
        raise NotImplementedError


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

    def _states(self, encoded) -> np.ndarray:
        import ctranslate2

        return np.asarray(encoded.to_device(ctranslate2.Device.cpu) if self.device == "cuda" else encoded)


def load_teacher(options: TeacherOptions = TeacherOptions()) -> Teacher:
    """The teacher for `options.backend`: CTranslate2 (fast decoding) or PyTorch (any HF Whisper)."""
    if options.backend == "torch":
        from engine.torch_teacher import TorchTeacher

        return TorchTeacher(options)
    return CT2Teacher(options)
