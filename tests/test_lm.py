"""LM likelihood: batching/padding math on a tiny random Llama built offline, and the bundled Gemma-3 270M."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.extras import Batch, ExtraOptions
from engine.extras import lm as lm_module
from engine.extras.lm import _is_converted, lm_scorer, load_lm, token_nll
from engine.scores.lm_likelihood import lm_nll

WORDS = "the a cat dog sat ran on in mat park house red big small and then it was".split()
TEXTS = ["the cat sat on the mat", "", "dog", "a big red dog ran in the park and then it sat",
         "   ", "the small house", "it was the cat and the dog and the mat and the park"]


def tiny_lm_folder(folder, bos: bool = True, eos: bool = True):
    """A random 2-layer Llama with a word-level tokenizer, saved like any transformers model."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(specials + WORDS)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>" if bos else None,
                            eos_token="</s>" if eos else None).save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(specials) + len(WORDS), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=64, bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_lm(str(tiny_lm_folder(tmp_path_factory.mktemp("tiny-lm"))), device="cpu")


def test_batched_equals_one_by_one_and_chunking(tiny, monkeypatch):
    together = token_nll(tiny, TEXTS)
    alone = [token_nll(tiny, [t])[0] for t in TEXTS]
    monkeypatch.setattr(lm_module, "TOKENS_PER_FORWARD", 12)  # forces several forward passes
    chunked = token_nll(tiny, TEXTS)
    for text, a, b, c in zip(TEXTS, together, alone, chunked):
        assert len(a) == len(text.split())  # one NLL per word-level token, the start token not scored
        np.testing.assert_allclose(a, b, atol=1e-5)
        np.testing.assert_allclose(a, c, atol=1e-5)


def test_nll_matches_the_models_own_loss_after_bos(tiny):
    import torch

    text = "a big red dog ran in the park"
    ids = [tiny.start_id] + tiny.tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        loss = tiny.model(input_ids=torch.tensor([ids]), labels=torch.tensor([ids])).loss.item()
        first = -torch.log_softmax(tiny.model(input_ids=torch.tensor([ids[:1]])).logits[0, -1], -1)[ids[1]].item()
    nll = token_nll(tiny, [text])[0]
    assert tiny.start_id == tiny.tokenizer.bos_token_id
    assert nll.mean() == pytest.approx(loss, abs=1e-5)
    assert nll[0] == pytest.approx(first, abs=1e-5)  # the first word is predicted from BOS


def test_start_token_falls_back_to_eos_or_refuses(tmp_path):
    no_bos = load_lm(str(tiny_lm_folder(tmp_path / "no-bos", bos=False)), device="cpu")
    assert no_bos.start_id == no_bos.tokenizer.eos_token_id
    with pytest.raises(ValueError, match="neither a BOS nor an EOS"):
        load_lm(str(tiny_lm_folder(tmp_path / "none", bos=False, eos=False)), device="cpu")


def test_scorer_gives_nan_for_empty_labels(tmp_path):
    scorer = lm_scorer(ExtraOptions(lm=str(tiny_lm_folder(tmp_path / "lm")), device="cpu"))
    n = len(TEXTS)
    out = scorer(Batch([str(i) for i in range(n)], [np.zeros(1600, np.float32)] * n, TEXTS, ["en"] * n))
    assert out["lm_nll"].dtype == np.float32 and out["lm_nll"].shape == (n,)
    assert np.array_equal(np.isnan(out["lm_nll"]), [not t.strip() for t in TEXTS])


def test_lm_nll_is_the_mean_token_nll():
    out = lm_nll([np.array([1.0, 2.0, 6.0]), np.zeros(0)])
    assert out[0] == pytest.approx(3.0) and np.isnan(out[1])


def test_damaged_conversion_is_not_reused(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"x" * 100)
    (tmp_path / "converted.json").write_text(json.dumps({"gguf_sha256": "abc", "sizes": {"model.safetensors": 100}}))
    assert _is_converted(tmp_path, "abc")
    assert not _is_converted(tmp_path, "other")  # another GGUF
    (tmp_path / "model.safetensors").write_bytes(b"x" * 10)
    assert not _is_converted(tmp_path, "abc")  # truncated


@pytest.fixture(scope="module")
def gemma():
    """The bundled Gemma-3 270M (converted from its GGUF into the user cache on first use)."""
    return load_lm(device="cpu")


def test_gemma_prefers_fluent_english_but_also_fluent_loops(gemma):
    fluent = "The weather was lovely, so we walked along the river after lunch."
    salad = "River lunch the after lovely walked so, weather along we was the."
    garbled = "Thwe wether wos luvly sow wi wokd alng th rivr aftr lnch."
    loop = " ".join(["Thank you."] * 12)  # a typical hallucination on noise
    fluent_nll, salad_nll, garbled_nll, loop_nll = (t.mean() for t in token_nll(gemma, [fluent, salad, garbled, loop]))
    assert fluent_nll + 1.0 < salad_nll and fluent_nll + 1.0 < garbled_nll
    assert loop_nll < fluent_nll  # the known blind spot: repetition is cheap for an LM
