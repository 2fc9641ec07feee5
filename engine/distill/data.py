"""Training data for distillation: the kept pseudo-labels as token targets, and the teacher cache.

The teacher runs once per clip: its top-k logits at every target position are stored, and so are the
student's inputs — the frozen encoder's outputs (CPU route: the encoder never runs again) or the log-mel
features (full route). The cache is a store of one file per clip, shared by every run on the workspace:

    WS/runs/.cache/<store_key>/<entry>.npz
        store_key  hash of the teacher's weights, top-k, the input kind (and the student's encoder depth)
        entry      hash of the clip's audio file (path, size, mtime) and its target tokens
        arrays     inputs (1500, d_model) or (n_mels, 3000) float16 (fewer for a window student); tokens (L,) int32;
                   topk_values (L - 1, k) float16 and topk_ids (L - 1, k) int32, one row per predicted token

So a run on a changed kept set computes only the clips it has not seen; each entry is written atomically,
so a killed teacher pass resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from engine.io.atomic import atomic_path
from engine.io.audio import SAMPLE_RATE, AudioError, load_audio
from engine.io.export import kept_rows
from engine.io.recipe import read_recipe
from engine.io.workspace import Workspace
from engine.teacher.models import is_multilingual
from engine.teacher.options import MAX_LABEL_TOKENS, N_SAMPLES

CACHES = ".cache"  # in WS/runs
CACHE_FORMAT = 2  # 2: targets in the student's vocabulary, with a KD mask
IGNORE = -100  # label of padding: no loss
ENCODER, FEATURES = "encoder", "features"


def kept_targets(ws: Workspace, recipe_path: str | Path | None = None) -> pd.DataFrame:
    """The kept clips (recipe and overrides applied): id, audio_filepath, duration, text (pseudo-label),
    lang and, when the manifest has one, reference."""
    ws.require_scores()
    recipe, _ = read_recipe(ws, recipe_path)
    rows = kept_rows(ws, recipe)
    if rows.empty:
        raise ValueError("the recipe keeps no clips; loosen a threshold in the Filter tab before distilling")
    return rows


def target_tokens(tokenizer, text: str, lang: str | None, multilingual: bool, max_positions: int) -> list[int]:
    """<|startoftranscript|><|lang|><|transcribe|><|notimestamps|> label <|endoftext|> as ids
    (no language and task for English-only models); the label is cut to fit `max_positions`."""
    token = tokenizer.convert_tokens_to_ids
    prompt = [token("<|startoftranscript|>")]
    if multilingual:
        lang_id = token(f"<|{lang}|>") if lang else None
        prompt += [lang_id if lang_id not in (None, tokenizer.unk_token_id) else token("<|en|>"), token("<|transcribe|>")]
    prompt.append(token("<|notimestamps|>"))
    label = tokenizer.encode(" " + text.strip(), add_special_tokens=False) if text.strip() else []
    room = min(MAX_LABEL_TOKENS, max_positions - len(prompt) - 1)
    return prompt + label[:room] + [token("<|endoftext|>")]


def weights_identity(model_dir: Path) -> list:
    """Path, size and mtime of each safetensors file in a transformers folder."""
    weights = sorted(Path(model_dir).glob("*.safetensors"))
    return [(str(w.resolve()), w.stat().st_size, w.stat().st_mtime_ns) for w in weights]


def store_key(teacher_dir: Path, topk: int, kind: str, student: str) -> str:
    """Name of the cache store: a hash of what every entry depends on besides its clip. `student` names
    what the stored inputs and token ids depend on (its encoder when they are encoder outputs, its
    vocabulary always)."""
    identity = {"format": CACHE_FORMAT, "teacher": weights_identity(teacher_dir), "topk": topk, "kind": kind,
                "student": student}
    return hashlib.sha1(json.dumps(identity).encode()).hexdigest()[:16]


@dataclass
class Entry:
    """One clip of a run: its targets in the student's and the teacher's vocabulary, and the name of its
    file in the store."""
    id: str
    audio_filepath: str
    tokens: list[int]
    teacher_tokens: list[int]
    name: str
    lang: str | None = None  # the clip's language (scores table), for a student with language experts


def cache_entries(rows: pd.DataFrame, tokenizers: tuple, configs: tuple) -> tuple[list[Entry], dict[str, str]]:
    """Each kept row's entry, and {id: reason} for clips left out: audio file not found, or a language an
    English-only student cannot learn. `tokenizers` and `configs` are (teacher, student)."""
    multilingual = [is_multilingual(c.vocab_size) for c in configs]
    max_positions = min(c.max_target_positions for c in configs)
    entries, skipped = [], {}
    for clip_id, path, text, lang in rows[["id", "audio_filepath", "text", "lang"]].itertuples(index=False):
        if not multilingual[1] and lang not in (None, "", "en"):
            skipped[clip_id] = f"the student is English-only and the clip is in {lang!r}"
            continue
        teacher_tokens, tokens = (target_tokens(t, text, lang, m, max_positions)
                                  for t, m in zip(tokenizers, multilingual))
        try:
            stat = Path(path).stat()
        except OSError as e:
            skipped[clip_id] = f"cannot read audio: {e.strerror or e}"
            continue
        identity = json.dumps([str(path), stat.st_size, stat.st_mtime_ns, tokens, teacher_tokens])
        entries.append(Entry(clip_id, str(path), tokens, teacher_tokens,
                             hashlib.sha1(identity.encode()).hexdigest()[:20] + ".npz",
                             lang if isinstance(lang, str) and lang else None))
    return entries, skipped


def vocabulary_map(teacher_tokenizer, student_tokenizer) -> np.ndarray:
    """For each teacher token id, the student's id of the same token string (byte-level BPE piece or
    special token), or -1 where the student has no such token. The identity for a shared vocabulary."""
    student = student_tokenizer.get_vocab()
    mapping = np.full(len(teacher_tokenizer), -1, np.int64)
    for piece, teacher_id in teacher_tokenizer.get_vocab().items():
        mapping[teacher_id] = student.get(piece, -1)
    return mapping


def _piece_starts(tokenizer, ids: list[int]) -> tuple[np.ndarray, int]:
    """(byte offset at which each token starts, bytes in all): a byte-level BPE piece has one character per byte."""
    lengths = np.array([len(piece) for piece in tokenizer.convert_ids_to_tokens(ids)], dtype=np.int64)
    ends = np.cumsum(lengths)
    return ends - lengths, int(ends[-1]) if len(ends) else 0


def aligned_rows(entry: Entry, tokenizers: tuple) -> np.ndarray:
    """For each row the student predicts (its token i + 1 from tokens[: i + 1]), the teacher's row that
    predicts from the same text prefix, or -1. Rows of the label and of <|endoftext|> align where both
    tokenizations start a piece at the same byte; prompt rows where both prompts are the same tokens. So
    every row aligns when teacher and student share a vocabulary."""
    seqs = (entry.teacher_tokens, entry.tokens)
    prompts = [_prompt_length(tok, seq) for tok, seq in zip(tokenizers, seqs)]
    rows = np.full(len(entry.tokens) - 1, -1, np.int64)
    teacher_prompt, student_prompt = (tok.convert_ids_to_tokens(seq[:p]) for tok, seq, p in zip(tokenizers, seqs, prompts))
    if teacher_prompt == student_prompt:
        rows[:prompts[1] - 1] = np.arange(prompts[1] - 1)
    labels = [seq[p:-1] for seq, p in zip(seqs, prompts)]
    (teacher_starts, teacher_bytes), (student_starts, student_bytes) = (
        _piece_starts(tok, ids) for tok, ids in zip(tokenizers, labels))
    teacher_row = {int(start): prompts[0] - 1 + i for i, start in enumerate(teacher_starts)}
    for i, start in enumerate(student_starts):
        rows[prompts[1] - 1 + i] = teacher_row.get(int(start), -1)
    if teacher_bytes == student_bytes:  # the same text (not cut at different lengths): <|endoftext|> aligns
        rows[prompts[1] - 1 + len(labels[1])] = prompts[0] - 1 + len(labels[0])
    return rows


def _prompt_length(tokenizer, tokens: list[int]) -> int:
    """Tokens before the label: <|startoftranscript|> up to <|notimestamps|>."""
    return tokens.index(tokenizer.convert_tokens_to_ids("<|notimestamps|>")) + 1


def heldout_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) row indices: a seeded shuffle; the held-out part is empty when `fraction` is 0,
    holds at least one row otherwise (the loop guard needs a held-out check) and never takes every row."""
    order = np.random.default_rng(seed).permutation(n)
    held = min(n - 1, max(1, int(round(n * fraction)))) if fraction > 0 else 0
    return np.sort(order[held:]), np.sort(order[:held])


@dataclass
class Batch:
    inputs: torch.Tensor  # (B, 1500, d) encoder outputs or (B, n_mels, 3000) features
    decoder_input_ids: torch.Tensor  # (B, L)
    labels: torch.Tensor  # (B, L), IGNORE on padding
    topk_values: torch.Tensor  # (B, L, k) teacher logits
    topk_ids: torch.Tensor  # (B, L, k), in the student's vocabulary
    kd_mask: torch.Tensor  # (B, L) bool: the teacher's distribution is known at this position
    langs: tuple[str | None, ...] = ()  # (B,) each clip's language: routes language experts

    def to(self, device) -> Batch:
        """The batch with its tensors on `device`."""
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self) if f.name != "langs"})


class TeacherCache:
    """A run's clips in the store, in order; `batch` reads their files."""

    def __init__(self, store: str | Path, entries: list[Entry], kind: str):
        self.store, self.kind = Path(store), kind
        self.entries = [e for e in entries if (self.store / e.name).is_file()]
        self.ids = [e.id for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def _read(self, row: int) -> dict[str, np.ndarray]:
        """One entry's arrays, read once (the file is closed again)."""
        with np.load(self.store / self.entries[row].name) as f:
            return {name: f[name] for name in f.files}

    def batch(self, rows: np.ndarray) -> Batch:
        """Padded tensors for cache rows `rows`."""
        files = [self._read(i) for i in rows]
        length, k = max(len(f["tokens"]) for f in files) - 1, files[0]["topk_values"].shape[1]
        dec = np.zeros((len(rows), length), np.int64)
        labels = np.full((len(rows), length), IGNORE, np.int64)
        values = np.zeros((len(rows), length, k), np.float32)
        ids = np.zeros((len(rows), length, k), np.int64)
        kd_mask = np.zeros((len(rows), length), bool)
        for b, f in enumerate(files):
            seq = f["tokens"]
            n = len(seq) - 1
            dec[b, :n], labels[b, :n] = seq[:-1], seq[1:]
            values[b, :n], ids[b, :n], kd_mask[b, :n] = f["topk_values"], f["topk_ids"], f["kd_mask"]
        inputs = np.stack([f["inputs"] for f in files]).astype(np.float32)
        return Batch(*(torch.from_numpy(a) for a in (inputs, dec, labels, values, ids, kd_mask)),
                     tuple(self.entries[i].lang for i in rows))


@dataclass
class Pair:
    """The teacher and the student a cache is filled for, with their (teacher, student) processors."""
    teacher: Any
    student: Any
    processors: tuple
    shares_encoder: bool  # the student's encoder is the teacher's: its outputs are reused

    @cached_property
    def tokenizers(self) -> tuple:
        return tuple(p.tokenizer for p in self.processors)

    @cached_property
    def vocabulary(self) -> np.ndarray:
        return vocabulary_map(*self.tokenizers)

    @cached_property
    def unknown(self) -> torch.Tensor:
        """Teacher token ids the student has no token for."""
        return torch.from_numpy(self.vocabulary < 0)


def fill_cache(entries: list[Entry], store: str | Path, pair: Pair, topk: int, kind: str,
               device: str = "cpu", batch_size: int = 8, progress: Callable[[int, int], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> dict[str, str] | None:
    """Run the teacher on the entries missing from `store` and write their files; return {id: reason}
    for clips whose audio cannot be read or that are longer than a window student's window (they get no
    file), or None when stopped early.

    `kind` ENCODER stores the student's (frozen) encoder outputs, FEATURES its log-mel features.
    """
    store = Path(store)
    missing = [e for e in entries if not (store / e.name).is_file()]
    skipped: dict[str, str] = {}
    window = pair.processors[1].feature_extractor.n_samples  # the student's encoder window
    for start in range(0, len(missing), batch_size):
        if should_stop and should_stop():
            return None
        loaded = []
        for entry in missing[start:start + batch_size]:
            try:
                samples = load_audio(entry.audio_filepath).samples
                if window < N_SAMPLES and len(samples) > window:
                    skipped[entry.id] = (f"longer ({len(samples) / SAMPLE_RATE:.1f} s) than the student's "
                                         f"{window / SAMPLE_RATE:g} s window: it would learn words it cannot hear")
                    continue
                loaded.append((entry, samples[:N_SAMPLES]))
            except AudioError as e:
                skipped[entry.id] = str(e)
            except Exception as e:  # a decoder crash on one file must not stop the run
                skipped[entry.id] = f"cannot read audio: {type(e).__name__}: {e}"
        if loaded:
            inputs, logits = _teacher_pass(pair, [samples for _, samples in loaded],
                                           [entry.teacher_tokens for entry, _ in loaded], kind, device)
            for (entry, _), clip_inputs, clip_logits in zip(loaded, inputs, logits):
                with atomic_path(store / entry.name) as tmp, open(tmp, "wb") as f:
                    np.savez(f, inputs=clip_inputs.numpy().astype(np.float16), tokens=np.asarray(entry.tokens, np.int32),
                             **student_targets(entry, clip_logits, pair, topk))
        if progress:
            progress(min(start + batch_size, len(missing)), len(missing))
    return skipped


def student_targets(entry: Entry, teacher_logits: torch.Tensor, pair: Pair, topk: int) -> dict[str, np.ndarray]:
    """The teacher's top-k logits at each row the student predicts, over the tokens the student also has,
    ids in the student's vocabulary; kd_mask is False on rows with no aligned teacher row."""
    rows = aligned_rows(entry, pair.tokenizers)
    top = teacher_logits.masked_fill(pair.unknown, float("-inf")).topk(topk, dim=-1)
    mask = rows >= 0
    values = np.zeros((len(rows), topk), np.float16)
    ids = np.zeros((len(rows), topk), np.int32)
    values[mask] = top.values.numpy()[rows[mask]]
    ids[mask] = np.maximum(pair.vocabulary[top.indices.numpy()[rows[mask]]], 0)  # -1 only where the value is -inf
    return {"topk_values": values, "topk_ids": ids, "kd_mask": mask}


@torch.no_grad()
def _teacher_pass(pair: Pair, samples: list[np.ndarray], seqs: list[list[int]], kind: str,
                  device: str) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(the student's inputs: encoder outputs or features; per-clip teacher logits (len - 1, vocab) in
    float32), on the CPU."""
    teacher, student = pair.teacher, pair.student
    extractors = [p.feature_extractor for p in pair.processors]
    feats = [extractors[0](samples, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features]
    same = extractors[1].to_dict() == extractors[0].to_dict()  # a pruned student, or another 80-mel Whisper
    feats.append(feats[0] if same else extractors[1](samples, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features)
    x = feats[0].to(device, next(teacher.parameters()).dtype)
    encoded = teacher.model.encoder(input_features=x).last_hidden_state
    length = max(len(s) for s in seqs) - 1
    dec = torch.zeros((len(seqs), length), dtype=torch.long)
    for b, s in enumerate(seqs):
        dec[b, :len(s) - 1] = torch.tensor(s[:-1], dtype=torch.long)
    logits = teacher(encoder_outputs=(encoded,), decoder_input_ids=dec.to(device)).logits.float().cpu()
    per_clip = [logits[b, :len(s) - 1] for b, s in enumerate(seqs)]
    if kind != ENCODER:
        return feats[1], per_clip
    if pair.shares_encoder:
        return encoded.float().cpu(), per_clip
    student_x = feats[1].to(device, next(student.parameters()).dtype)
    return student.model.encoder(input_features=student_x).last_hidden_state.float().cpu(), per_clip
