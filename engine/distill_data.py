"""Training data for distillation: the kept pseudo-labels as token targets, and the teacher cache.

The teacher runs once per clip (`prepare_cache`): its top-k logits at every target position are
stored, and so are the student's inputs — the frozen encoder's outputs (CPU route: the encoder never
runs again) or the log-mel features (full route). A cache is a folder WS/runs/.cache/<key>, written
atomically; `cache_key` hashes everything it depends on, so runs on the same kept set share it:

    meta.json        ids, the input kind and shape, clips skipped with a reason
    inputs.npy       (n, 1500, d_model) encoder outputs or (n, n_mels, 3000) features, float16
    tokens.npy       all target sequences concatenated, int32; offsets.npy (n + 1,) int64
    topk_values.npy  (positions, k) teacher logits, float16; topk_ids.npy (positions, k) int32
                     one row per predicted token: clip i owns rows offsets[i] - i ... offsets[i+1] - i - 1
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from engine.atomic import atomic_path
from engine.audio import AudioError, load_audio
from engine.export import kept_rows
from engine.recipe import read_recipe
from engine.teacher import MAX_LABEL_TOKENS, N_SAMPLES
from engine.workspace import Workspace

CACHES = ".cache"  # in WS/runs
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


def cache_key(rows: pd.DataFrame, teacher_dir: Path, topk: int, kind: str, encoder_layers: int | None) -> str:
    """Hash of what a cache holds: the clips and their labels, the teacher's weights, top-k, the input kind."""
    weights = sorted(Path(teacher_dir).glob("*.safetensors"))
    identity = {
        "clips": rows[["id", "audio_filepath", "text", "lang"]].astype(str).values.tolist(),
        "teacher": [(str(w.resolve()), w.stat().st_size, w.stat().st_mtime_ns) for w in weights],
        "topk": topk, "kind": kind, "encoder_layers": encoder_layers if kind == ENCODER else None,
    }
    return hashlib.sha1(json.dumps(identity).encode()).hexdigest()[:16]


def heldout_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) row indices: a seeded shuffle; the held-out part is empty when `fraction` is 0
    and never takes every row."""
    order = np.random.default_rng(seed).permutation(n)
    held = min(n - 1, int(round(n * fraction))) if fraction > 0 else 0
    return np.sort(order[held:]), np.sort(order[:held])


@dataclass
class Batch:
    inputs: torch.Tensor  # (B, 1500, d) encoder outputs or (B, n_mels, 3000) features
    decoder_input_ids: torch.Tensor  # (B, L)
    labels: torch.Tensor  # (B, L), IGNORE on padding
    topk_values: torch.Tensor  # (B, L, k) teacher logits
    topk_ids: torch.Tensor  # (B, L, k)


class TeacherCache:
    """Read side of RUN/cache (memory-mapped)."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        self.meta = json.loads((folder / "meta.json").read_text())
        self.ids: list[str] = self.meta["ids"]
        self.kind: str = self.meta["kind"]
        self.inputs = np.load(folder / "inputs.npy", mmap_mode="r")
        self.tokens = np.load(folder / "tokens.npy")
        self.offsets = np.load(folder / "offsets.npy")
        self.topk_values = np.load(folder / "topk_values.npy", mmap_mode="r")
        self.topk_ids = np.load(folder / "topk_ids.npy", mmap_mode="r")

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, rows: np.ndarray) -> Batch:
        """Padded tensors for cache rows `rows`."""
        seqs = [self.tokens[self.offsets[i]:self.offsets[i + 1]] for i in rows]
        length, k = max(len(s) for s in seqs) - 1, self.topk_values.shape[1]
        dec = np.zeros((len(rows), length), np.int64)
        labels = np.full((len(rows), length), IGNORE, np.int64)
        values = np.zeros((len(rows), length, k), np.float32)
        ids = np.zeros((len(rows), length, k), np.int64)
        for b, (i, seq) in enumerate(zip(rows, seqs)):
            n, start = len(seq) - 1, self.offsets[i] - i
            dec[b, :n], labels[b, :n] = seq[:-1], seq[1:]
            values[b, :n], ids[b, :n] = self.topk_values[start:start + n], self.topk_ids[start:start + n]
        inputs = np.stack([self.inputs[i] for i in rows]).astype(np.float32)
        return Batch(*(torch.from_numpy(a) for a in (inputs, dec, labels, values, ids)))


def prepare_cache(rows: pd.DataFrame, teacher, student, processor, folder: str | Path, topk: int,
                  kind: str, device: str = "cpu", batch_size: int = 8,
                  progress: Callable[[int, int], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> TeacherCache | None:
    """Run the teacher once over `rows` and write RUN/cache; None when stopped early.

    `kind` ENCODER stores the student's (frozen) encoder outputs, FEATURES the log-mel features.
    A clip whose audio cannot be read is skipped and named in meta.json with the reason.
    """
    folder = Path(folder)
    multilingual = teacher.config.vocab_size >= 51865
    max_positions = min(teacher.config.max_target_positions, student.config.max_target_positions)
    tokens = [target_tokens(processor.tokenizer, text, lang, multilingual, max_positions)
              for text, lang in zip(rows["text"], rows["lang"])]
    loaded: dict[int, np.ndarray] = {}
    skipped: dict[str, str] = {}
    for i, path in enumerate(rows["audio_filepath"]):
        try:
            loaded[i] = load_audio(path).samples[:N_SAMPLES]
        except AudioError as e:
            skipped[rows["id"].iloc[i]] = str(e)
        except Exception as e:  # a decoder crash on one file must not stop the run
            skipped[rows["id"].iloc[i]] = f"cannot read audio: {type(e).__name__}: {e}"
    order = list(loaded)
    if not order:
        raise ValueError("no kept clip could be read: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    n_positions = sum(len(tokens[i]) - 1 for i in order)
    d_model = student.config.d_model
    shape = (len(order), 1500, d_model) if kind == ENCODER else (len(order), student.config.num_mel_bins, 3000)
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        inputs = np.lib.format.open_memmap(tmp / "inputs.npy", "w+", np.float16, shape)
        values = np.lib.format.open_memmap(tmp / "topk_values.npy", "w+", np.float16, (n_positions, topk))
        ids = np.lib.format.open_memmap(tmp / "topk_ids.npy", "w+", np.int32, (n_positions, topk))
        flat = [np.asarray(tokens[i], np.int32) for i in order]
        offsets = np.concatenate([[0], np.cumsum([len(t) for t in flat])]).astype(np.int64)
        for start in range(0, len(order), batch_size):
            if should_stop and should_stop():
                return None
            rows_here = list(range(start, min(start + batch_size, len(order))))
            feats = processor.feature_extractor([loaded[order[r]] for r in rows_here], sampling_rate=16000,
                                                return_tensors="pt").input_features
            states, logits = _teacher_pass(teacher, student, feats, [flat[r] for r in rows_here], kind, device)
            inputs[rows_here] = (states if kind == ENCODER else feats).numpy().astype(np.float16)
            for r, seq_logits in zip(rows_here, logits):
                top = seq_logits.topk(topk, dim=-1)
                at = offsets[r] - r
                values[at:at + len(seq_logits)] = top.values.numpy().astype(np.float16)
                ids[at:at + len(seq_logits)] = top.indices.numpy()
            if progress:
                progress(rows_here[-1] + 1, len(order))
        for array in (inputs, values, ids):
            array.flush()
        np.save(tmp / "tokens.npy", np.concatenate(flat))
        np.save(tmp / "offsets.npy", offsets)
        meta = {"ids": [rows["id"].iloc[i] for i in order], "kind": kind, "topk": topk, "skipped": skipped}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    return TeacherCache(folder)


@torch.no_grad()
def _teacher_pass(teacher, student, feats: torch.Tensor, seqs: list[np.ndarray], kind: str,
                  device: str) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
    """(student encoder outputs or None, per-clip teacher logits (len - 1, vocab) in float32, on CPU)."""
    dtype = next(teacher.parameters()).dtype
    x = feats.to(device, dtype)
    encoded = teacher.model.encoder(input_features=x).last_hidden_state
    length = max(len(s) for s in seqs) - 1
    dec = torch.zeros((len(seqs), length), dtype=torch.long)
    for b, s in enumerate(seqs):
        dec[b, :len(s) - 1] = torch.from_numpy(s[:-1].astype(np.int64))
    logits = teacher(encoder_outputs=(encoded,), decoder_input_ids=dec.to(device)).logits.float().cpu()
    per_clip = [logits[b, :len(s) - 1] for b, s in enumerate(seqs)]
    states = None
    if kind == ENCODER:
        same = student.config.encoder_layers == teacher.config.encoder_layers
        states = encoded if same else student.model.encoder(input_features=x.to(next(student.parameters()).dtype)).last_hidden_state
        states = states.float().cpu()
    return states, per_clip
