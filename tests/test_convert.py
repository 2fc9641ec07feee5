"""The HF conversion of the CTranslate2 teacher decodes like CTranslate2 on real speech."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "assets" / "demo"
PROMPT = ["<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>"]
# Measured on whisper-base (float16 model.bin, both sides float32, 2-core x86 CPU), encoder
# max |CT2 - HF| over outputs of magnitude ~24: 3.5e-4..7.0e-4 on the first 3 demo clips,
# at most 2.6e-3 (1.1e-4 of the largest |output|) over all 59 decodable demo clips.
ENCODER_ATOL = 4e-3
ENCODER_RTOL = 1.7e-4  # of the largest |output|
# CTranslate2 generates at most max_length // 2 = 224 tokens (OpenAI's sample_len); HF's limit
# is max_length = 448 including the prompt, so cap HF's new tokens the same way.
MAX_NEW_TOKENS = 224


def speech_clips(n: int = 3) -> list[Path]:
    """The first `n` clips of the demo manifest that have a non-empty transcript."""
    manifest = DEMO / "manifest.jsonl"
    if not manifest.is_file():
        pytest.skip(f"{manifest.relative_to(ROOT)} does not exist yet (demo clips not built)")
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    clips = [DEMO / row["audio_filepath"] for row in rows if str(row.get("text") or "").strip()][:n]
    if len(clips) < n:
        pytest.skip(f"{manifest.relative_to(ROOT)} lists only {len(clips)} clips with text, need {n}")
    return clips


def load_16k(path: Path) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    return audio if rate == 16000 else soxr.resample(audio, rate, 16000).astype(np.float32)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """(ct2_dir, hf_dir, cache) with the teacher converted once into a temporary cache."""
    from engine.teacher.convert import hf_teacher_dir
    from engine.teacher.models import default_teacher_dir

    ct2_dir = default_teacher_dir()  # the assembled CT2 teacher of the user cache
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WHISPER_CURATOR_CACHE", str(cache))
        hf_dir = hf_teacher_dir(ct2_dir)
    return ct2_dir, hf_dir, cache


@pytest.fixture(scope="module")
def models(converted):
    """(CTranslate2 Whisper, HF Whisper, HF processor), both models in float32."""
    import ctranslate2
    import torch
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    ct2_dir, hf_dir, _ = converted
    ct2_model = ctranslate2.models.Whisper(str(ct2_dir), device="cpu", compute_type="float32")
    hf_model = WhisperForConditionalGeneration.from_pretrained(hf_dir, dtype=torch.float32).eval()
    return ct2_model, hf_model, WhisperProcessor.from_pretrained(hf_dir)


def test_cached_conversion_is_reused(converted, monkeypatch):
    from engine.teacher.convert import STAMP, hf_teacher_dir

    ct2_dir, hf_dir, cache = converted
    assert hf_dir == cache / "hf" / ct2_dir.name
    stamp = json.loads((hf_dir / STAMP).read_text())
    assert stamp["model_bin"]["size"] == (ct2_dir / "model.bin").stat().st_size
    before = (hf_dir / STAMP).stat().st_mtime_ns
    monkeypatch.setenv("WHISPER_CURATOR_CACHE", str(cache))
    assert hf_teacher_dir(ct2_dir) == hf_dir
    assert (hf_dir / STAMP).stat().st_mtime_ns == before


def test_tokenizer_and_generation_config(converted, models):
    from tokenizers import Tokenizer

    ct2_dir, _, _ = converted
    _, hf_model, processor = models
    tok, gen = processor.tokenizer, hf_model.generation_config
    text = " Mr. Dashwood's naïve café — 30% of ¥1,000?"
    raw = Tokenizer.from_file(str(ct2_dir / "tokenizer.json"))
    assert tok(text, add_special_tokens=False).input_ids == raw.encode(text, add_special_tokens=False).ids
    prompt = tok.convert_tokens_to_ids(PROMPT)
    assert prompt == [50258, 50259, 50359, 50363]
    ids = prompt + tok(text, add_special_tokens=False).input_ids + [tok.eos_token_id]
    assert tok.decode(ids) == "".join(PROMPT) + text + "<|endoftext|>"
    assert tok.decode(ids, skip_special_tokens=True) == text
    first_timestamp = gen.no_timestamps_token_id + 1
    assert tok.decode([first_timestamp, 2425, first_timestamp + 36], decode_with_timestamps=True) \
        == "<|0.00|> Hello<|0.72|>"
    assert len(tok) == hf_model.config.vocab_size == 51865
    assert processor.feature_extractor.feature_size == hf_model.config.num_mel_bins == 80
    assert gen.lang_to_id["<|en|>"] == 50259 and len(gen.lang_to_id) == 99
    assert gen.task_to_id == {"transcribe": 50359, "translate": 50358}
    assert gen.decoder_start_token_id == 50258 and gen.max_length == 448 and gen.is_multilingual
    assert gen.begin_suppress_tokens == [220, 50257] and len(gen.alignment_heads) == 8


def test_matches_ctranslate2_on_speech(models):
    import ctranslate2
    import torch

    ct2_model, hf_model, processor = models
    prompt = processor.tokenizer.convert_tokens_to_ids(PROMPT)
    for clip in speech_clips():
        # One 30 s log-mel array, fed to both models.
        features = processor.feature_extractor(load_16k(clip), sampling_rate=16000,
                                               return_tensors="np").input_features.astype(np.float32)
        storage = ctranslate2.StorageView.from_array(np.ascontiguousarray(features))
        ct2_encoded = np.array(ct2_model.encode(storage, to_cpu=True))
        with torch.no_grad():
            hf_encoded = hf_model.model.encoder(torch.from_numpy(features)).last_hidden_state.numpy()
        max_abs = float(np.abs(ct2_encoded - hf_encoded).max())
        assert max_abs < ENCODER_ATOL, f"{clip.name}: encoder max abs diff {max_abs:.2e}"
        assert max_abs / float(np.abs(ct2_encoded).max()) < ENCODER_RTOL, clip.name

        ct2_tokens = ct2_model.generate(storage, [prompt], beam_size=1, max_length=448,
                                        suppress_blank=True, suppress_tokens=[-1])[0].sequences_ids[0]
        with torch.no_grad():
            hf_sequence = hf_model.generate(torch.from_numpy(features), language="en", task="transcribe",
                                            num_beams=1, do_sample=False, max_new_tokens=MAX_NEW_TOKENS,
                                            return_dict_in_generate=True).sequences[0].tolist()
        assert hf_sequence[: len(prompt)] == prompt, f"{clip.name}: HF prompt {hf_sequence[:len(prompt)]}"
        hf_tokens = [t for t in hf_sequence[len(prompt):] if t != processor.tokenizer.eos_token_id]
        assert ct2_tokens, f"{clip.name}: CTranslate2 decoded nothing"
        assert hf_tokens == ct2_tokens, (f"{clip.name}: HF {processor.tokenizer.decode(hf_tokens)!r} "
                                         f"vs CT2 {processor.tokenizer.decode(ct2_tokens)!r}")
