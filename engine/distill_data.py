"""Training data for distillation: the kept pseudo-labels as token targets, and the teacher cache.

The teacher runs once per clip: its top-k logits at every target position are stored, and so are the
student's inputs — the frozen encoder's outputs (CPU route: the encoder never runs again) or the log-mel
features (full route). The cache is a store of one file per clip, shared by every run on the workspace:

    WS/runs/.cache/<store_key>/<entry>.npz
        store_key  hash of the teacher's weights, top-k, the input kind (and the student's encoder depth)
        entry      hash of the clip's audio file (path, size, mtime) and its target tokens
        arrays     inputs (1500, d_model) or (n_mels, 3000) float16; tokens (L,) int32;
                   topk_values (L - 1, k) float16 and topk_ids (L - 1, k) int32, one row per predicted token

So a run on a changed kept set computes only the clips it has not seen; each entry is written atomically,
so a killed teacher pass resumes where it stopped.
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


def store_key(teacher_dir: Path, topk: int, kind: str, encoder_layers: int | None) -> str:
    """Name of the cache store: a hash of what every entry depends on besides its clip."""
    weights = sorted(Path(teacher_dir).glob("*.safetensors"))
    identity = {
        "teacher": [(str(w.resolve()), w.stat().st_size, w.stat().st_mtime_ns) for w in weights],
        "topk": topk, "kind": kind, "encoder_layers": encoder_layers if kind == ENCODER else None,
    }
    return hashlib.sha1(json.dumps(identity).encode()).hexdigest()[:16]


@dataclass
class Entry:
    """One clip of a run: its targets and the name of its file in the store."""
    id: str
    audio_filepath: str
    tokens: list[int]
    name: str


def cache_entries(rows: pd.DataFrame, tokenizer, teacher_config, student_config) -> tuple[list[Entry], dict[str, str]]:
    """Each kept row's entry, and {id: reason} for clips whose audio file cannot be found."""
    multilingual = teacher_config.vocab_size >= 51865
    max_positions = min(teacher_config.max_target_positions, student_config.max_target_positions)
    entries, skipped = [], {}
    for clip_id, path, text, lang in rows[["id", "audio_filepath", "text", "lang"]].itertuples(index=False):
        tokens = target_tokens(tokenizer, text, lang, multilingual, max_positions)
        try:
            stat = Path(path).stat()
        except OSError as e:
            skipped[clip_id] = f"cannot read audio: {e.strerror or e}"
            continue
        identity = json.dumps([str(path), stat.st_size, stat.st_mtime_ns, tokens])
        entries.append(Entry(clip_id, str(path), tokens, hashlib.sha1(identity.encode()).hexdigest()[:20] + ".npz"))
    return entries, skipped


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
        for b, f in enumerate(files):
            seq = f["tokens"]
            n = len(seq) - 1
            dec[b, :n], labels[b, :n] = seq[:-1], seq[1:]
            values[b, :n], ids[b, :n] = f["topk_values"], f["topk_ids"]
        inputs = np.stack([f["inputs"] for f in files]).astype(np.float32)
        return Batch(*(torch.from_numpy(a) for a in (inputs, dec, labels, values, ids)))


def fill_cache(entries: list[Entry], store: str | Path, teacher, student, processor, topk: int, kind: str,
               device: str = "cpu", batch_size: int = 8, progress: Callable[[int, int], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> dict[str, str] | None:
    """Run the teacher on the entries missing from `store` and write their files; return {id: reason}
    for clips whose audio cannot be read (they get no file), or None when stopped early.

    `kind` ENCODER stores the student's (frozen) encoder outputs, FEATURES the log-mel features.
    """
    store = Path(store)
    missing = [e for e in entries if not (store / e.name).is_file()]
    skipped: dict[str, str] = {}
    for start in range(0, len(missing), batch_size):
        if should_stop and should_stop():
            return None
        loaded = []
        for entry in missing[start:start + batch_size]:
            try:
                loaded.append((entry, load_audio(entry.audio_filepath).samples[:N_SAMPLES]))
            except AudioError as e:
                skipped[entry.id] = str(e)
            except Exception as e:  # a decoder crash on one file must not stop the run
                skipped[entry.id] = f"cannot read audio: {type(e).__name__}: {e}"
        if loaded:
            feats = processor.feature_extractor([samples for _, samples in loaded], sampling_rate=16000,
                                                return_tensors="pt").input_features
            seqs = [np.asarray(entry.tokens, np.int32) for entry, _ in loaded]
            states, logits = _teacher_pass(teacher, student, feats, seqs, kind, device)
            inputs = states if kind == ENCODER else feats
            for (entry, _), seq, clip_inputs, seq_logits in zip(loaded, seqs, inputs, logits):
                top = seq_logits.topk(topk, dim=-1)
                with atomic_path(store / entry.name) as tmp, open(tmp, "wb") as f:
                    np.savez(f, inputs=clip_inputs.numpy().astype(np.float16), tokens=seq,
                             topk_values=top.values.numpy().astype(np.float16), topk_ids=top.indices.numpy().astype(np.int32))
        if progress:
            progress(min(start + batch_size, len(missing)), len(missing))
    return skipped


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
