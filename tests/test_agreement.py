"""Teacher self-agreement: the scores on hand-made transcripts, and `--add agreement` on demo clips."""
from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from engine.demo import DEMO_MANIFEST
from engine.extras import EXTRAS, Batch, ExtraOptions
from engine.extras.agreement import agreement_scorer, sampled_transcripts
from engine.io.audio import load_audio
from engine.io.workspace import Workspace
from engine.scoring.pipeline import sampling_pass
from engine.teacher.options import SAMPLE_SLACK_TOKENS, TeacherOptions, sample_token_limit
from engine.scores import FAMILIES, HIGHER_IS_BETTER
from engine.scores.agreement import agreement_cer, agreement_share, agreement_wer
from whisper_curator.cli import main

CLEAN = "He was not an ill-disposed young man."
STABLE = [CLEAN, "He was not an ill disposed young man", "He was not an ill-disposed young man!",
          "He was not an ill-disposed young lad."]
LOOP = "I'm not going to let you go. " * 6  # a confident repetition loop on babble
SCATTERED = ["And then go to the gym.", "I'm not going to let you go.", "Re Kangaro.", "is that it has power?"]
SCORES = (agreement_wer, agreement_cer, agreement_share)


def _all(labels, alternatives, langs):
    return {f.__name__: f(labels, alternatives, langs) for f in SCORES}


def test_stable_label_agrees_and_a_loop_does_not():
    out = _all([CLEAN, LOOP], [STABLE, SCATTERED], ["en", "en"])
    assert out["agreement_wer"][0] == pytest.approx(1 / 8 / 4)  # one word of eight ("ill disposed"), in one sample
    assert out["agreement_share"][0] == 0.75  # punctuation, case and hyphens are normalised away
    assert out["agreement_wer"][1] > 0.8 and out["agreement_cer"][1] > 0.7
    assert out["agreement_share"][1] == 0.0
    assert out["agreement_cer"][0] < out["agreement_cer"][1]


def test_ranges_and_dtype():
    out = _all([CLEAN, LOOP, "short"], [STABLE, SCATTERED, ["a much longer transcript than the label"]],
               ["en"] * 3)
    for name, values in out.items():
        assert values.dtype == np.float32 and values.shape == (3,)
        assert (values >= 0).all() and (name != "agreement_share" or (values <= 1).all())
    assert out["agreement_wer"][2] > 1  # insertions: WER is not capped at 1


def test_empty_texts_and_missing_alternatives():
    labels = ["", "", "words here", "words here", "words here"]
    alternatives = [["", ""], ["", "speech"], [""], None, []]
    out = _all(labels, alternatives, ["en"] * 5)
    for name in ("agreement_wer", "agreement_cer"):
        np.testing.assert_array_equal(out[name][:3], [0.0, 0.5, 1.0])  # both empty agree; one side empty: all wrong
    np.testing.assert_array_equal(out["agreement_share"][:3], [1.0, 0.5, 0.0])
    for values in out.values():
        assert np.isnan(values[3:]).all()  # no alternatives: no score
    assert all(len(f([], [], [])) == 0 for f in SCORES)


def test_unspaced_script_reads_characters():
    label, sample = "今天天气很好", "今天天气不好"  # one character of six differs; the whole sentence is one word
    assert agreement_wer([label], [[sample]], ["zh"])[0] == 1.0
    assert agreement_cer([label], [[sample]], ["zh"])[0] == pytest.approx(1 / 6)


def test_inputs_must_line_up():
    with pytest.raises(ValueError, match="one entry per clip"):
        agreement_wer(["a", "b"], [["a"]], ["en", "en"])


def test_registry_knows_the_columns():
    assert HIGHER_IS_BETTER["agreement_wer"] is False and HIGHER_IS_BETTER["agreement_cer"] is False
    assert HIGHER_IS_BETTER["agreement_share"] is True
    assert FAMILIES["agreement"] == ("agreement_wer", "agreement_cer", "agreement_share")


def test_fingerprint_follows_the_teacher_and_sampling():
    agreement = EXTRAS["agreement"]
    base = agreement.fingerprint(ExtraOptions())
    assert base == json.dumps(["agreement", [None, "full", "transcribe", ExtraOptions().samples,
                                             ExtraOptions().temperature]])
    assert agreement.fingerprint(ExtraOptions(window="fit")) != base
    assert agreement.fingerprint(ExtraOptions(samples=2)) != base
    assert agreement.fingerprint(ExtraOptions(proxy="pocketsphinx")) == base
    assert EXTRAS["proxy"].fingerprint(ExtraOptions()) == json.dumps(["proxy", None])  # older shards stay valid
    with pytest.raises(ValueError, match="samples"):
        ExtraOptions(samples=0)


class _FailsOnShort:
    """A sampler that cannot sample a clip of fewer than 3 samples."""

    def sample(self, waveforms, langs, labels):
        if any(len(w) < 3 for w in waveforms):
            raise RuntimeError("too short")
        return [[f"{lang} {len(w)}"] * 2 for w, lang in zip(waveforms, langs)]


def test_unreadable_and_failing_clips_cost_only_themselves():
    samples = [np.zeros(5, np.float32), np.zeros(2, np.float32), np.zeros(0, np.float32),
               np.full(4, np.nan, np.float32), np.zeros(4, np.float32)]
    with pytest.warns(UserWarning, match="could not sample"):
        texts = sampled_transcripts(_FailsOnShort(), samples, ["en", "en", "en", "en", "de"], ["a label"] * 5)
    assert texts == [["en 5"] * 2, None, None, None, ["de 4"] * 2]


# kind → demo clip: clean read speech, babble the teacher mislabels, a German sentence
CLIPS = {"clean": "real_0002", "babble": "babble_0002", "german": "other_language_0001"}


def _demo_rows() -> dict[str, dict]:
    """The demo manifest's lines by clip name, their audio paths absolute."""
    rows = map(json.loads, DEMO_MANIFEST.read_text().splitlines())
    return {Path(r["audio_filepath"]).stem: {**r, "audio_filepath": str(DEMO_MANIFEST.parent / r["audio_filepath"])}
            for r in rows}


def _demo_clip(kind: str) -> str:
    return _demo_rows()[CLIPS[kind]]["audio_filepath"]


def _manifest(root: Path) -> Path:
    """The three demo clips of CLIPS, as a manifest."""
    rows = _demo_rows()
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(rows[n]) + "\n" for n in CLIPS.values()))
    return manifest


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> pd.DataFrame:
    """Three demo clips scored with `--add agreement` and the real teacher (sampling in its own pass)."""
    root = tmp_path_factory.mktemp("agreement")
    manifest = _manifest(root)
    ws = root / "ws"
    assert main(["score", str(manifest), "--workspace", str(ws), "--add", "agreement", "--threads", "1",
                 "--no-map"]) == 0
    table = Workspace(ws).read_scores().set_index("id")
    table.index = [i.rsplit("-", 1)[0] for i in table.index]
    table["audio_filepath"] = [c.audio_filepath for c in Workspace(ws).read_clips()]
    return table


def test_scored_values_are_in_range_and_rank_the_babble_last(scored):
    assert scored["pseudo_label"].notna().all() and scored.loc[CLIPS["german"], "lang"] == "de"
    for column in ("agreement_wer", "agreement_cer"):
        assert (scored[column] >= 0).all()
    assert scored["agreement_share"].between(0, 1).all()
    clean, babble = scored.loc[CLIPS["clean"]], scored.loc[CLIPS["babble"]]
    assert babble["wer"] >= 0.5  # the teacher's label is wrong here...
    assert babble["agreement_wer"] > 0.5 > clean["agreement_wer"]  # ...and its samples scatter
    assert babble["agreement_cer"] > clean["agreement_cer"] and babble["agreement_share"] == 0.0


class _SpyWhisper:
    """A CTranslate2 Whisper that records its encoder calls and what each generate call was given."""

    real = None  # ctranslate2.models.Whisper, set by the test
    encoded: ClassVar[list] = []  # (clips, encoder output) of each encode call
    generated: ClassVar[list] = []  # the features each generate call was given

    def __init__(self, *args, **kwargs):
        self._model = _SpyWhisper.real(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._model, name)

    def encode(self, features, *args, **kwargs):
        out = self._model.encode(features, *args, **kwargs)
        _SpyWhisper.encoded.append((features.shape[0], out))
        return out

    def generate(self, features, *args, **kwargs):
        _SpyWhisper.generated.append(features)
        return self._model.generate(features, *args, **kwargs)

    detects = False  # whether the teacher pass runs (it detects languages; the agreement group never does)

    def detect_language(self, *args, **kwargs):
        assert _SpyWhisper.detects, "agreement uses the clip's language; it never detects one"
        return self._model.detect_language(*args, **kwargs)


@pytest.fixture
def spy(monkeypatch) -> type[_SpyWhisper]:
    import ctranslate2

    monkeypatch.setattr(_SpyWhisper, "real", ctranslate2.models.Whisper)
    monkeypatch.setattr(_SpyWhisper, "encoded", [])
    monkeypatch.setattr(_SpyWhisper, "generated", [])
    monkeypatch.setattr(ctranslate2.models, "Whisper", _SpyWhisper)
    return _SpyWhisper


def test_score_samples_in_the_teacher_pass_from_its_encoder_output(tmp_path, spy, monkeypatch):
    monkeypatch.setattr("engine.extras.agreement.teacher_sampler", _no_second_teacher)
    monkeypatch.setattr(spy, "detects", True)
    ws = tmp_path / "ws"
    assert main(["score", str(_manifest(tmp_path)), "--workspace", str(ws), "--add", "agreement", "--threads", "1",
                 "--no-map"]) == 0
    assert sum(n for n, _ in spy.encoded) == len(CLIPS)  # the teacher pass's encoder only
    assert len(spy.generated) == 2 * len(spy.encoded)  # greedy, then sampling...
    assert all(g is e for g, e in zip(spy.generated, [e for _, e in spy.encoded for _ in range(2)]))  # ...of its output
    table = Workspace(ws).read_scores()
    assert not table[["agreement_wer", "agreement_cer", "agreement_share"]].isna().any().any()
    assert "sampled" not in table.columns


def _no_second_teacher(options):
    raise AssertionError("the teacher pass sampled every clip: no second teacher is needed")


class _Counting:
    def __init__(self):
        self.calls = []

    def sample(self, waveforms, langs, labels):
        self.calls.append(len(waveforms))
        return [["a sample"] * 2 for _ in waveforms]


def test_scorer_uses_the_pass_samples_and_samples_only_the_rest():
    sampler = _Counting()
    loads = []
    scorer = agreement_scorer(ExtraOptions(), load=lambda options: loads.append(options) or sampler)
    audio = [np.zeros(1600, np.float32)] * 3
    out = scorer(Batch(["a", "b", "c"], audio, ["a sample"] * 3, ["en"] * 3, [["a sample"]] * 3))
    assert not loads and (out["agreement_share"] == 1).all()
    out = scorer(Batch(["a", "b", "c"], audio, ["a sample", "other", "x"], ["en"] * 3, [["other"], None, None]))
    out = scorer(Batch(["d"], audio[:1], ["a sample"], ["en"]))
    assert len(loads) == 1 and sampler.calls == [2, 1]  # loaded once, only for clips the pass did not sample


def test_the_pass_samples_only_as_the_group_would():
    extras, options = ["agreement"], ExtraOptions(samples=3, temperature=0.5)
    sampling = sampling_pass(TeacherOptions(), extras, options)
    assert (sampling.samples, sampling.temperature) == (3, 0.5)
    assert sampling_pass(TeacherOptions(), ["proxy"], options).samples == 0
    assert sampling_pass(TeacherOptions(backend="torch"), extras, options).samples == 0  # it cannot sample
    assert sampling_pass(TeacherOptions(window="fit"), extras, options).samples == 0  # the group samples at full
    with pytest.raises(ValueError, match="ct2"):
        TeacherOptions(backend="torch", samples=2)


def test_scorer_encodes_each_clip_once_and_skips_unreadable_audio(scored, spy):
    rows = scored.loc[[CLIPS["clean"], CLIPS["babble"]]]
    samples = [load_audio(p).samples for p in rows["audio_filepath"]]
    unreadable = [np.zeros(0, np.float32), np.full(99, np.nan, np.float32)]
    batch = Batch(list(rows.index) + ["empty", "nan"], samples + unreadable, list(rows["pseudo_label"]) + ["", "a label"],
                  list(rows["lang"]) + ["en", "en"])
    out = agreement_scorer(ExtraOptions(threads=1, batch_size=4))(batch)
    assert sum(n for n, _ in _SpyWhisper.encoded) == 2  # the two readable clips, once each
    assert len(_SpyWhisper.generated) == len(_SpyWhisper.encoded)  # one generate per encoder pass...
    assert all(g is e for g, (_, e) in zip(_SpyWhisper.generated, _SpyWhisper.encoded))  # ...given its output
    for values in out.values():
        assert values.shape == (4,) and not np.isnan(values[:2]).any() and np.isnan(values[2:]).all()
    assert out["agreement_wer"][1] > out["agreement_wer"][0]


def test_a_sample_stops_at_twice_the_longest_label():
    assert sample_token_limit(20, 225) == 2 * 20 + SAMPLE_SLACK_TOKENS
    assert sample_token_limit(0, 225) == SAMPLE_SLACK_TOKENS  # an emptied label: a short sample still disagrees
    assert sample_token_limit(200, 225) == 225  # never past the label limit


def test_the_pass_and_a_later_sample_cap_a_batch_alike(monkeypatch):
    """The cap counts the final labels on both paths (an emptied label: 0 tokens), so one fingerprint means one
    sample length."""
    from engine.teacher import load_teacher

    teacher = load_teacher(TeacherOptions(threads=1, samples=2))
    caps = []
    monkeypatch.setattr(teacher, "_sample", lambda encoded, prompts, longest: caps.append(longest) or
                        [["x"]] * len(prompts))
    clips = [load_audio(_demo_clip(kind)).samples for kind in ("clean", "german")]
    outputs = teacher.run(clips, ["en", "de"])
    teacher.sample(clips, ["en", "de"], [o.text for o in outputs])
    assert caps[0] == caps[1] == max(len(teacher.tokenizer.encode(o.text)) for o in outputs) > 0
    monkeypatch.setattr("engine.teacher.options.no_speech", lambda no_speech_prob, avg_logprob: True)
    emptied = teacher.run(clips, ["en", "de"])
    teacher.sample(clips, ["en", "de"], [o.text for o in emptied])
    assert all(o.text == "" and o.tokens for o in emptied) and caps[2] == caps[3] == 0
