"""The per-language corpus and report: sentences apart from the study's dev part, one language's clips end to
end, and the report's rules (truncated clips out, CER for Japanese and Korean, best member per family)."""
from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT))  # benchmarks/ is a folder of scripts, not an installed package

from benchmarks import language_corpus as lc  # noqa: E402
from benchmarks.languages import (  # noqa: E402
    CUTS, DEV_COMBINED, KEPT, OTHERS, flag_reasons, flagged_counts, goal_lines, languages, metric_table, readability,
    referenced, report, resampled,
)
from engine.analysis.calibrate import calibrate  # noqa: E402
from engine.scores.calibration import Calibration, Curve, Feature  # noqa: E402
from benchmarks.study_corpus import CORRUPTIONS, PARTS  # noqa: E402


def test_every_language_has_its_sentences_and_none_from_the_dev_part():
    assert len(lc.LANGUAGES) >= 8 and {"ar", "ja", "ru", "ko"} <= set(lc.LANGUAGES)  # right to left, unspaced, Cyrillic, Hangul
    assert all(len(texts) == lc.SENTENCES for texts in lc.LANGUAGES.values())
    assert lc.TEST_SENTENCES and not set(lc.TEST_SENTENCES) & lc.DEV_SENTENCES
    assert set(lc.english_sentences(5)) <= set(PARTS["test"].english)


def test_the_dev_side_shares_no_sentence_voice_or_english_text_with_the_test_side():
    test, dev = lc.TEST, lc.DEV
    assert not set(test.sentences) & set(dev.sentences) and set(dev.sentences) == lc.DEV_SENTENCES
    assert not set(test.kokoro) & set(dev.kokoro) and not set(test.voices.variants) & set(dev.voices.variants)
    assert not set(lc.english_sentences(3, dev)) & set(lc.english_sentences(5, test))
    clean = lc.clean_items("ko", 3, seed=dev.seed, side=dev)  # babble needs six clips of other sentences
    assert len(clean) == 3 * len(dev.sentences) and all(c.id.startswith("dev-ko-clean-") for c in clean)
    assert {c.text for c in clean} == {lc.LANGUAGES["ko"][k] for k in dev.sentences}
    assert lc.corrupted_copies("ko", clean, seed=dev.seed, side=dev)[0].id.startswith("dev-ko-")


def test_one_language_clean_and_corrupted(tmp_path):
    clean = lc.clean_items("ar", 2, seed=1)
    assert len(clean) == 2 * len(lc.TEST_SENTENCES) and {c.lang for c in clean} == {"ar"}
    assert all(c.voice.startswith("espeak-ng:ar") for c in clean)
    assert len({c.voice for c in clean if c.text_id == clean[0].text_id}) == 2  # two voices per sentence
    corrupted = lc.corrupted_copies("ar", clean, seed=1)
    assert len(corrupted) == sum(len(s) for _, s in CORRUPTIONS)
    assert {c.base_id for c in corrupted} <= {c.id for c in clean} and all(len(c.audio) for c in corrupted)


CALIBRATION = Calibration((Feature("avg_logprob", 1.0, Curve((0.0,), (0.0,))),), Curve((0.0,), (0.0,)))


def _table(n: int = 40) -> pd.DataFrame:
    """English and German clips whose avg_logprob tracks their WER; Japanese with a separate CER; one truncated."""
    rng = np.random.default_rng(0)
    wer = rng.uniform(0, 0.6, 2 * n)
    table = pd.DataFrame({
        "id": [f"c{i}" for i in range(2 * n)], "pseudo_label": "words", "lang": ["en"] * n + ["de"] * n,
        "status": "ok", "reason": "", "kind": "clean", "duration": 2.0, "wer": wer, "cer": wer / 2, "text": "words",
        "avg_logprob": -wer + rng.normal(0, 0.05, 2 * n), "proxy_wer": wer + rng.normal(0, 0.3, 2 * n),
    })
    table.loc[n:, "proxy_wer"] = np.nan  # no proxy reads German
    table["combined"] = 1 - table["wer"]
    return table


def test_truncated_clips_are_left_out_and_unspaced_scripts_use_cer():
    table = _table()
    table.loc[0, "kind"] = "truncated"
    table.loc[1, "lang"] = "th"
    table.loc[2, ["lang", "pseudo_label", "text"]] = ["ja", "エキ", "えき"]
    rows = referenced(table.assign(combined_tuned=0.5)).set_index("id")
    assert "c0" not in rows.index and "combined_tuned" not in rows
    assert rows.loc["c1", "wer"] == table.loc[1, "wer"]  # Thai is not in BY_CHARACTERS: judged by words
    assert rows.loc["c2", "wer"] == 0.0  # katakana label, hiragana reference: the same reading


def test_report_tables_and_goals():
    results = languages(_table())
    assert [r.name for r in results] == ["en", "de", OTHERS]
    auroc = metric_table(results, f"auroc@{CUTS[0]:.0%}")
    assert auroc.loc["en", "teacher"] > 0.9 and auroc.loc["en", "proxy"] < auroc.loc["en", "teacher"]
    assert np.isnan(auroc.loc["de", "proxy"]) and auroc.loc["de", "clips"] == "40"
    kept = metric_table(results, KEPT)
    assert kept.loc["en", "teacher"] < kept.loc["en", "proxy"]  # lower kept WER is better: the family's minimum
    assert metric_table(results, "spearman").loc["en", "teacher"] > 0.9
    lines = goal_lines(results, f"auroc@{CUTS[0]:.0%}", {"combined": CALIBRATION})
    assert lines[0].startswith("- auroc@20%: best family on English teacher") and "gap" in lines[0]
    for line in (line for line in lines if ", en:" in line or ", de:" in line):
        assert float(line.split("[")[1].split(",")[0]) >= 0  # combined ranks perfectly: never below its member on a draw
    table = _table()
    table["combined"] = 1 + table["avg_logprob"] / 10  # combined ranks as avg_logprob does
    same = goal_lines(languages(table), f"auroc@{CUTS[0]:.0%}", {"combined": CALIBRATION})
    assert all("(difference 0.000 [0.000, 0.000])" in line for line in same[1:])


def test_a_calibration_fitted_on_a_dev_side_is_reported_beside_the_shipped_one():
    dev = calibrate(_table(), log=lambda line: None)
    test = _table().assign(source="espeak-ng", avg_logprob=lambda t: t["avg_logprob"] + 0.01)
    text = report("cmd", test, dev)
    assert f"`{DEV_COMBINED}` one fitted the same way on the corpus's dev side (80 clips" in text
    assert f"- auroc@20%, de: {DEV_COMBINED} " in text and "its best member avg_logprob" in text
    header = next(line for line in text.splitlines() if line.startswith("| language | clips"))
    assert header.endswith(f"| combined | {DEV_COMBINED} |")
    assert DEV_COMBINED not in report("cmd", test)


def test_rank_metrics_match_scipy_and_sklearn_with_ties():
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(4)
    wer = np.round(rng.uniform(0, 0.8, 60), 1)  # many ties, on both sides of the cut
    good = np.round(-wer + rng.normal(0, 0.2, 60), 1)
    every = np.arange(60)[None]
    assert resampled(wer, good, "spearman", every)[0] == pytest.approx(-spearmanr(good, wer).statistic)
    assert resampled(wer, good, "auroc@20%", every)[0] == pytest.approx(roc_auc_score(wer > 0.2 + 1e-6, -good))
    assert np.isnan(resampled(np.zeros(60), good, "auroc@20%", every)[0])  # no bad label: no AUROC


def test_a_language_without_both_kinds_of_label_gets_no_auroc():
    table = _table()
    table.loc[table["lang"] == "de", "wer"] = 0.0  # every German label good
    results = {r.name: r for r in languages(table)}
    assert np.isnan(results["de"].metrics.loc["avg_logprob", "auroc@20%"])
    assert not np.isnan(results["en"].metrics.loc["avg_logprob", "auroc@20%"])


def test_manifest_lines_carry_the_language(tmp_path):
    lines = lc.written_split(lc.clean_items("ja", 1, seed=2)[:2], tmp_path / "ja")
    assert [line["lang"] for line in lines] == ["ja", "ja"]
    written = [json.loads(x) for x in (tmp_path / "ja" / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    assert written[0]["text"] in lc.LANGUAGES["ja"]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_clean_clips_are_deterministic(lang):
    a = lc.clean_items(lang, 1, seed=3)
    b = lc.clean_items(lang, 1, seed=3)
    assert [x.voice for x in a] == [x.voice for x in b] and np.array_equal(a[0].audio, b[0].audio)


def test_readability_counts_good_clean_labels_and_proxy_transcripts_per_source():
    table = _table(n=10).assign(source="espeak-ng", proxy_text=None)
    table.loc[10:14, "source"] = "kokoro"
    table.loc[10:14, "wer"] = [0.0, 0.1, 0.2, 0.5, 0.9]  # German Kokoro clips: three good labels
    table.loc[15, "kind"] = "noise"  # a corrupted clip is not counted
    table.loc[[10, 11], "proxy_text"] = ["words", "other things"]  # a proxy read two of them: one right
    frame = readability(table)
    assert frame.loc["de", "kokoro teacher good"] == "3/5" and frame.loc["de", "kokoro teacher median"] == pytest.approx(0.2)
    assert frame.loc["de", "espeak-ng teacher good"].endswith("/4")
    assert frame.loc["de", "kokoro proxy good"] == "1/2" and "espeak-ng proxy good" not in frame
    assert np.isnan(frame.loc["en", "kokoro teacher median"])  # no English Kokoro clip here


def test_proxy_error_is_cer_for_korean_and_kana_for_japanese():
    table = _table(n=1).iloc[:0]
    rows = pd.DataFrame({"id": ["k", "j", "e"], "pseudo_label": "x", "kind": "clean", "lang": ["ko", "ja", "en"],
                         "text": ["가게는 문을 닫아요", "えき", "the shop is shut"], "wer": 1.0, "cer": 0.5,
                         "proxy_text": ["가게는 무늘 닫아요", "エキ", "the shop is shot"]})
    out = referenced(pd.concat([table, rows])).set_index("id")
    assert out.loc["k", "proxy_error"] == pytest.approx(2 / 10)  # two syllables of ten characters (spaces count)
    assert out.loc["j", "proxy_error"] == 0.0 and out.loc["e", "proxy_error"] == pytest.approx(0.25)
    assert out.loc["k", "wer"] == 0.5  # a Korean label: its CER


def test_flagged_clips_are_out_of_the_score_tables_but_in_readability():
    table = _table(n=10).assign(source="espeak-ng")
    table.loc[10, ["status", "wer", "avg_logprob"]] = ["flagged", 12.0, 0.0]  # a confident loop at the token limit
    table.loc[10, "reason"] = "clipped: 40% of samples; label hit the 225-token limit (usually a repetition loop)"
    results = {r.name: r for r in languages(table)}
    assert "c10" not in set(results["de"].rows["id"]) and len(results["de"].rows) == 9
    assert results[OTHERS].metrics.loc["avg_logprob", KEPT] < 1  # the loop cannot sit in the kept set
    assert readability(table).loc["de", "espeak-ng teacher good"].endswith("/10")
    assert flagged_counts(table) == {"en": 0, "de": 1, OTHERS: 1}
    assert flag_reasons(table) == {"clipped": 1, "label hit the 225-token limit": 1}
    assert len(languages(table, flagged=True)[1].rows) == 10
    assert "- with flagged clips in (no default recipe keeps them), auroc@20%: best family" in report("cmd", table)
