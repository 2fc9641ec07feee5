"""Proxy ASR: the agreement scores, the language rule, the transformers route and `score --add proxy`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curator.summary import summary_markdown
from engine.demo import DEMO_MANIFEST
from engine.extras import Batch, ExtraOptions
from engine.extras.proxy import proxy_scorer, proxy_specs, proxy_texts, routed_texts, unread_languages_note
from engine.io.audio import load_audio
from engine.io.workspace import Workspace
from engine.scores.proxy_wer import proxy_cer, proxy_wer
from engine.scoring.extras import EXTRAS_DIR
from whisper_curator.cli import main

# kind → demo clip: clean read speech, babble the teacher mislabels, a German sentence
CLIPS = {"clean": "real_0001", "babble": "babble_0002", "german": "other_language_0001"}


def test_identical_texts_agree_after_normalisation():
    labels = ["Go forward ten meters.", "It's the BEST of times!"]
    proxies = ["go forward 10 meters", "it is the best of times"]
    np.testing.assert_array_equal(proxy_wer(labels, proxies, ["en", "en"]), [0.0, 0.0])
    np.testing.assert_array_equal(proxy_cer(labels, proxies, ["en", "en"]), [0.0, 0.0])


def test_disjoint_texts_disagree_fully():
    assert proxy_wer(["red green blue"], ["cat dog fish"], ["en"])[0] == 1.0
    assert proxy_wer(["Der Zug fährt"], ["le train part"], ["de"])[0] == 1.0


def test_missing_and_empty_transcripts():
    out = proxy_wer(["a label", "", "", "a label"], [None, "", "words", ""], ["de", "en", "en", "en"])
    assert np.isnan(out[0])  # no proxy for the language
    np.testing.assert_array_equal(out[1:], [0.0, 1.0, 1.0])  # both silent; one side empty


def test_non_english_uses_the_basic_normaliser():
    assert proxy_wer(["Fährt heute, ab!"], ["fährt heute ab"], ["de"])[0] == 0.0
    assert proxy_wer(["Zehn Meter"], ["10 Meter"], ["de"])[0] == 0.5  # no English number words


class _FailsOnEmpty:
    """A proxy that reads English and German and cannot transcribe an empty clip."""

    name = "fake"
    languages = frozenset({"en", "de"})

    def transcribe(self, samples, langs):
        if any(len(s) == 0 for s in samples):
            raise RuntimeError("empty input")
        return [f"{lang} {len(s)}" for s, lang in zip(samples, langs)]


def test_one_bad_clip_costs_only_itself():
    samples = [np.zeros(5, np.float32), np.zeros(0, np.float32), np.zeros(7, np.float32), np.zeros(3, np.float32)]
    with pytest.warns(UserWarning, match="could not transcribe"):
        texts = proxy_texts(_FailsOnEmpty(), samples, ["en", "en", "de", "fr"])
    assert texts == ["en 5", None, "de 7", None]  # the failed clip and the unread language get None


class _Reads:
    """A proxy that reads the given languages and says who heard each clip."""

    def __init__(self, name, languages):
        self.name, self.languages = name, frozenset(languages) if languages else None

    def transcribe(self, samples, langs):
        return [f"{self.name} heard {lang}" for lang in langs]


def test_each_clip_goes_to_the_first_proxy_that_reads_its_language():
    proxies = [_Reads("english", {"en"}), _Reads("korean", {"ko"}), _Reads("any", None)]
    langs = ["ko", "en", "de", "ko"]
    texts, models = routed_texts(proxies, [np.zeros(4, np.float32)] * 4, langs)
    assert models == ["korean", "english", "any", "korean"]
    assert texts == ["korean heard ko", "english heard en", "any heard de", "korean heard ko"]
    texts, models = routed_texts(proxies[:2], [np.zeros(4, np.float32)] * 4, langs)
    assert texts[2] is None and models[2] == ""  # no proxy reads German: no transcript, no model


def test_proxy_specs_in_routing_order():
    assert proxy_specs(None) == proxy_specs("") == ["tiny.en"]
    assert proxy_specs("tiny.en; vosk-ko ;org/wav2vec2=de,fr") == ["tiny.en", "vosk-ko", "org/wav2vec2=de,fr"]
    with pytest.raises(ValueError, match="twice"):
        proxy_specs("tiny.en;tiny.en")


def test_a_language_without_a_proxy_gets_nan_and_a_note(tmp_path):
    table = pd.DataFrame({"pseudo_label": ["a", "b", "c", None, "e"], "lang": ["en", "de", "de", "fr", "ja"],
                          "proxy_model": ["tiny.en", "", "", None, ""], "proxy_wer": [0.1, np.nan, np.nan, np.nan, np.nan]})
    note = unread_languages_note(table)
    assert note.startswith("proxy: no proxy read 3 labelled clips (de 2, ja 1)") and "--proxy" in note
    assert unread_languages_note(table.iloc[:1]) is None
    shown = summary_markdown(table.assign(status="ok", reason="", duration=1.0))
    assert "**Proxy:** no proxy read 3 labelled clips (de 2, ja 1)" in shown  # the app's summary says so too


def _demo_rows() -> list[dict]:
    rows = {Path(r["audio_filepath"]).stem: r for r in map(json.loads, DEMO_MANIFEST.read_text().splitlines())}
    return [{**rows[name], "audio_filepath": str(DEMO_MANIFEST.parent / rows[name]["audio_filepath"])}
            for name in CLIPS.values()]


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> tuple[Workspace, pd.DataFrame]:
    """Three demo clips scored by the teacher, then `--add proxy` with the real tiny.en."""
    root = tmp_path_factory.mktemp("proxy")
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in _demo_rows()))
    ws = root / "ws"
    assert main(["score", str(manifest), "--workspace", str(ws), "--add", "proxy", "--threads", "2"]) == 0
    table = Workspace(ws).read_scores().set_index("id")
    table.index = [i.rsplit("-", 1)[0] for i in table.index]
    return Workspace(ws), table


def test_clean_english_clip_agrees(scored):
    row = scored[1].loc[CLIPS["clean"]]
    assert row["proxy_model"] == "tiny.en" and "Dashwood" in row["proxy_text"]
    assert row["proxy_wer"] < 0.1 and row["proxy_cer"] < 0.05


def test_babble_hallucination_disagrees(scored):
    row = scored[1].loc[CLIPS["babble"]]
    assert row["wer"] >= 0.5  # the teacher's label is wrong here...
    assert row["proxy_wer"] >= 0.5  # ...and the proxy says so


def test_non_english_clip_gets_no_english_proxy(scored):
    row = scored[1].loc[CLIPS["german"]]
    assert row["lang"] == "de" and row["pseudo_label"]
    assert np.isnan(row["proxy_wer"]) and np.isnan(row["proxy_cer"])
    assert row["proxy_model"] == "" and pd.isna(row["proxy_text"])


def test_rerun_resumes_without_recomputing(scored, monkeypatch):
    ws, before = scored
    shards = sorted((ws.path(EXTRAS_DIR) / "proxy").glob("*.parquet"))
    stamps = [p.stat().st_mtime_ns for p in shards]
    monkeypatch.setattr("engine.extras.proxy.proxy_scorer", lambda options: pytest.fail("proxy recomputed"))
    assert main(["score", str(ws.root), "--add", "proxy"]) == 0
    assert [p.stat().st_mtime_ns for p in shards] == stamps
    after = ws.read_scores()
    pd.testing.assert_series_equal(after["proxy_wer"], pd.Series(before["proxy_wer"].to_numpy(), name="proxy_wer"))


@pytest.fixture(scope="module")
def clips() -> dict[str, np.ndarray]:
    return {kind: load_audio(r["audio_filepath"]).samples for kind, r in zip(CLIPS, _demo_rows())}


@pytest.fixture(scope="module")
def tiny_ctc(tmp_path_factory) -> Path:
    """A randomly initialised, tiny Wav2Vec2 CTC model with its processor, saved to a folder."""
    from transformers import (
        Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC, Wav2Vec2Processor,
    )

    folder = tmp_path_factory.mktemp("tiny-ctc")
    vocab = {t: i for i, t in enumerate(["<pad>", "<s>", "</s>", "<unk>", "|", *"abcdefghijklmnopqrstuvwxyz'"])}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"))
    processor = Wav2Vec2Processor(Wav2Vec2FeatureExtractor(return_attention_mask=True), tokenizer)
    config = Wav2Vec2Config(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=64, conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 4),
                            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, pad_token_id=0)
    Wav2Vec2ForCTC(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _batch(clips: dict[str, np.ndarray], langs: list[str]) -> Batch:
    return Batch(ids=list(clips), samples=list(clips.values()), labels=["a label"] * len(clips), langs=langs)


def test_transformers_ctc_model_reads_every_language_unless_told(tiny_ctc, clips):
    langs = ["en", "en", "de"]
    out = proxy_scorer(ExtraOptions(proxy=str(tiny_ctc), threads=1))(_batch(clips, langs))
    assert list(out["proxy_model"]) == [str(tiny_ctc)] * 3
    assert all(isinstance(t, str) for t in out["proxy_text"]) and not np.isnan(out["proxy_wer"]).any()

    spec = f"{tiny_ctc}=en"
    out = proxy_scorer(ExtraOptions(proxy=spec, threads=1))(_batch(clips, langs))
    assert list(out["proxy_model"]) == [spec, spec, ""] and out["proxy_text"][2] is None
    assert np.isnan(out["proxy_wer"][2]) and not np.isnan(out["proxy_wer"][:2]).any()


def test_transformers_whisper_follows_the_clip_language(clips):
    from engine.teacher.convert import hf_teacher_dir

    german = {"german": clips["german"]}  # one thread: torch's spinning threads crawl on a busy machine
    out = proxy_scorer(ExtraOptions(proxy=str(hf_teacher_dir()), threads=1))(_batch(german, ["de"]))
    assert out["proxy_model"][0] == str(hf_teacher_dir())
    assert "Hamburg" in out["proxy_text"][0]  # transcribed as German, not translated or read as English


def test_pocketsphinx_reads_english_only(clips):
    two = {"clean": clips["clean"], "german": clips["german"]}
    out = proxy_scorer(ExtraOptions(proxy="pocketsphinx"))(
        Batch(list(two), list(two.values()), ["And Mr. John Dashwood had then leisure to consider how much there "
                                             "might be prudently in his power to do for them.", "Der Zug"], ["en", "de"]))
    assert list(out["proxy_model"]) == ["pocketsphinx", ""] and out["proxy_text"][1] is None
    assert out["proxy_wer"][0] < 0.5  # weaker than tiny.en, but it hears the sentence


def test_vosk_korean_reads_korean_clips_only(tmp_path):
    import subprocess

    from engine.io.audio import load_audio

    wav = tmp_path / "ko.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(wav), "오늘은 날씨가 정말 좋습니다."], check=True)
    korean = load_audio(wav).samples
    out = proxy_scorer(ExtraOptions(proxy="tiny.en;vosk-ko", threads=1))(
        Batch(["ko", "en"], [korean, korean], ["오늘은 날씨가 좋습니다", "today"], ["ko", "de"]))
    assert list(out["proxy_model"]) == ["vosk-ko", ""]
    assert any("\uac00" <= ch <= "\ud7a3" for ch in out["proxy_text"][0])  # Hangul syllables
    assert out["proxy_cer"][0] < 1 and np.isnan(out["proxy_cer"][1])
