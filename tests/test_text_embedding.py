"""Text embedding of pseudo-labels: the bundled all-MiniLM-L6-v2, offline, NaN rows for empty labels."""
from __future__ import annotations

import numpy as np
import pytest

from engine.analysis.mapping import audio_map, map_embeddings
from engine.extras.text_embedding import DIMENSIONS, load_text_embedder, text_embeddings
from engine.io.workspace import EMBEDDINGS, write_array_atomic
from engine.scoring.extras import add_scores


@pytest.fixture(scope="module")
def embedder():
    return load_text_embedder(device="cpu")


def test_unit_vectors_and_nan_rows_for_empty_labels(embedder):
    texts = ["The train was late again.", "", "Bread and coffee for breakfast.", "  "]
    out = text_embeddings(embedder, texts, batch_size=2)
    assert out.shape == (4, DIMENSIONS) and out.dtype == np.float32
    assert np.isnan(out[[1, 3]]).all() and np.isfinite(out[[0, 2]]).all()
    np.testing.assert_allclose(np.linalg.norm(out[[0, 2]], axis=1), 1.0, atol=1e-5)
    alone = text_embeddings(embedder, texts[2:3])
    np.testing.assert_allclose(out[2], alone[0], atol=1e-5)  # batching does not change a row


def test_paraphrase_is_closer_than_an_unrelated_label(embedder):
    a, b, c = text_embeddings(embedder, ["The train was delayed by twenty minutes.",
                                         "Our train arrived twenty minutes late.", "Seven of hearts, four of clubs."])
    assert a @ b > a @ c + 0.3


def test_add_text_group_writes_aligned_embeddings(tmp_workspace, embedder):
    table = add_scores(tmp_workspace.root, ["text"])
    embeddings = np.load(tmp_workspace.path(EMBEDDINGS) / "text.npy")
    assert embeddings.shape == (len(table), DIMENSIONS)
    assert "text_embedding" not in table  # 2-D: only in embeddings/text.npy
    expected = text_embeddings(embedder, [str(t) for t in table["pseudo_label"]])
    np.testing.assert_allclose(embeddings.astype(np.float32), expected, atol=2e-3)  # stored as float16


def test_map_by_text_or_by_both_embeddings(tmp_workspace):
    n = len(tmp_workspace.read_scores())
    rng = np.random.default_rng(0)
    folder = tmp_workspace.path(EMBEDDINGS)
    write_array_atomic(folder / "audio.npy", rng.normal(size=(n, 16)).astype(np.float16))
    with pytest.raises(ValueError, match="--add text"):
        audio_map(tmp_workspace, embedding="text")
    text = rng.normal(size=(n, DIMENSIONS)).astype(np.float16)
    text[0] = np.nan  # an empty label
    write_array_atomic(folder / "text.npy", text)
    for embedding in ("text", "both"):
        points = audio_map(tmp_workspace, embedding=embedding)
        assert len(points) == n - 1 and np.isfinite(points[["x", "y"]].to_numpy()).all()
    joined = map_embeddings(tmp_workspace, "both", n)
    np.testing.assert_allclose(np.linalg.norm(joined[1:, :16], axis=1), 1.0, atol=1e-5)  # audio and text weigh alike
    np.testing.assert_allclose(np.linalg.norm(joined[1:, 16:], axis=1), 1.0, atol=1e-5)
