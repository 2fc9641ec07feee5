"""Label-free scores per language: how well each score family spots bad pseudo-labels, English vs the others.

    python benchmarks/languages.py --out /tmp/languages [--dev /tmp/languages-dev] [--threads 2] [--markdown docs/languages.md]

Builds the per-language corpus (`benchmarks/language_corpus.py`) unless `--out` has it, scores it with the
teacher and every label-free group (`GROUPS`; resumable: a rerun goes on from finished shards), and reports
per language, on the clips with a reference that fits (truncated clips are left out: their reference is the
whole sentence, not the words still audible), for each family of `combined` (`engine.scores.FAMILIES`), its
best column's Spearman correlation with low WER, AUROC for spotting labels with WER above 20 % and above 50 %
(CER for Japanese and Korean), and the duration-weighted WER of the 70 % it keeps; `combined` beside them. Japanese references are
kana (what espeak-ng reads) while the teacher writes kanji and katakana, so Japanese labels are judged by the CER
of their hiragana reading (pykakasi) against the reference's. Nothing is fitted on the test side:
`combined` is the shipped calibration (fitted on the study's dev part; the test side uses none of its sentences).
With `--dev`, the corpus's dev side (other sentences, voices and seed) is built and scored there too, a calibration
is fitted on it as `benchmarks/calibrate.py` fits the shipped one, and its `combined_dev` is reported beside.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.calibrate import UNREFERENCED_KINDS  # noqa: E402
from benchmarks.study_stats import BOOTSTRAP, Interval, interval  # noqa: E402
from benchmarks.language_corpus import BY_CHARACTERS, DEV, TEST, VARIANTS, Side, build  # noqa: E402
from engine.analysis.calibrate import calibrate  # noqa: E402
from engine.analysis.validate import MIN_ROWS, kept_wer, markdown_table, oriented, score_columns  # noqa: E402
from engine.extras import ExtraOptions  # noqa: E402
from engine.io.workspace import Workspace  # noqa: E402
from engine.scores import FAMILIES  # noqa: E402
from engine.scores.calibration import Calibration, estimated_wer, shipped  # noqa: E402
from engine.scores import reference_wer  # noqa: E402
from engine.scores.reference_wer import FLOAT32_SLACK, GOOD_WER  # noqa: E402
from engine.scoring.pipeline import ScoreOptions, score_workspace  # noqa: E402
from engine.teacher.options import TeacherOptions  # noqa: E402

GROUPS = "truncation,proxy,phoneme,align,lm,agreement,dnsmos"
PROXIES = "tiny.en;vosk-ko"  # every offline proxy: tiny.en reads English, vosk-ko Korean
KEPT = "kept_wer@70%"
CUTS = (GOOD_WER, 0.5)  # bad labels: the cut, and a looser one for languages the teacher reads poorly
RANKED = {"spearman": None, **{f"auroc@{cut:.0%}": cut for cut in CUTS}}  # rank metrics: name → its WER cut
GOAL_GAP = 0.03  # issue #17: the best family on other languages within this AUROC of English's best
MIN_CLIPS = 30  # issue #17: combined at least as good as its best member in every language with this many clips
OTHERS = "other languages"
DEV_COMBINED = "combined_dev"  # 1 − the estimate of a calibration fitted on the corpus's dev side (--dev)
COMBINED = ("combined", DEV_COMBINED)


@dataclass
class Language:
    name: str
    rows: pd.DataFrame  # its referenced clips
    metrics: pd.DataFrame  # one row per label-free column (and combined): spearman, auroc@CUT..., kept_wer@70%


def scored_table(out: Path, threads: int, side: Side = TEST) -> pd.DataFrame:
    """The scores of the corpus side in `out` with each clip's kind, building it and scoring (or resuming) first."""
    if not (out / side.manifest).is_file():
        build(out, VARIANTS, side=side)
    ws = out / "ws"
    for line in score_workspace(out / side.manifest, ws, TeacherOptions(threads=threads),
                                ScoreOptions(), GROUPS, ExtraOptions(threads=threads, proxy=PROXIES), make_map=False):
        print(line, flush=True)
    workspace = Workspace(ws)
    clips = {c.id: c for c in workspace.read_clips()}
    table = workspace.read_scores()
    return table.assign(kind=table["id"].map(lambda i: clips[i].custom.get("kind")),
                        source=table["id"].map(lambda i: clips[i].custom.get("source")),
                        text=table["id"].map(lambda i: clips[i].text))


@lru_cache(maxsize=1)
def _kakasi():
    import pykakasi

    return pykakasi.kakasi()  # loads its dictionaries: once


def kana(text: str) -> str:
    """The hiragana reading of Japanese text (kanji and katakana read out; digits stay digits)."""
    return "".join(part["hira"] for part in _kakasi().convert(text))


def error_rates(references: pd.Series, hypotheses: pd.Series, langs: pd.Series) -> np.ndarray:
    """WER of each hypothesis against its reference; CER for BY_CHARACTERS, Japanese on both texts' kana readings."""
    refs, hyps, langs = list(references), [h if isinstance(h, str) else "" for h in hypotheses], list(langs)
    out = reference_wer.wer(refs, hyps, langs)
    for i, lang in enumerate(langs):
        if lang in BY_CHARACTERS:
            ref, hyp = (kana(refs[i]), kana(hyps[i])) if lang == "ja" else (refs[i], hyps[i])
            out[i] = reference_wer.cer([ref], [hyp], [lang])[0]
    return out


def referenced(table: pd.DataFrame) -> pd.DataFrame:
    """Labelled clips whose reference is what they say (not truncated), with the error rate of their label (`wer`:
    the pipeline's WER, its CER for BY_CHARACTERS, Japanese on kana readings) and of their proxy transcript
    (`proxy_error` by `error_rates`; NaN where no proxy read the clip)."""
    rows = table[table["pseudo_label"].notna() & ~table["kind"].isin(UNREFERENCED_KINDS)].copy()
    by_characters = rows["lang"].isin(BY_CHARACTERS)
    rows.loc[by_characters, "wer"] = rows.loc[by_characters, "cer"]  # the pipeline's, against the reference
    japanese = rows["lang"] == "ja"
    rows.loc[japanese, "wer"] = error_rates(rows.loc[japanese, "text"], rows.loc[japanese, "pseudo_label"],
                                            rows.loc[japanese, "lang"])
    rows["proxy_error"] = np.nan
    if "proxy_text" in rows:
        proxied = rows["proxy_text"].notna()
        rows.loc[proxied, "proxy_error"] = error_rates(rows.loc[proxied, "text"], rows.loc[proxied, "proxy_text"],
                                                       rows.loc[proxied, "lang"])
    return rows.drop(columns=["combined_tuned"], errors="ignore")  # tuned on these references: not label-free


def column_metrics(rows: pd.DataFrame, column: str) -> dict[str, float]:
    """Spearman of the column's goodness with low WER, its AUROC for WER above each of CUTS (NaN without both
    kinds of label or with fewer than MIN_ROWS clips), and the WER of the best 70 % it keeps."""
    wer, good = rows["wer"].to_numpy(dtype=float), oriented(rows[column], column)
    out = {metric: float(resampled(wer, good, metric, draws=np.arange(len(wer))[None])[0]) if len(rows) >= MIN_ROWS
           else np.nan for metric in RANKED}
    out[KEPT] = kept_wer(good, wer, rows["duration"].fillna(1.0).to_numpy(dtype=float), 0.7)
    return out


def resampled(wer: np.ndarray, good: np.ndarray, metric: str, draws: np.ndarray) -> np.ndarray:
    """`metric` (one of RANKED: Spearman of goodness with low WER, or AUROC for WER above a cut) of each row of
    clip indices `draws` (draws, clips); NaN where a draw lacks either kind of label or has constant values."""
    from scipy.stats import rankdata

    wers, goods = wer[draws], good[draws]
    with np.errstate(invalid="ignore", divide="ignore"):
        if RANKED[metric] is None:
            a, b = (rankdata(v, axis=1) for v in (wers, goods))
            a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
            return -(a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
        bad = wers > RANKED[metric] + FLOAT32_SLACK
        n_bad, n_good = bad.sum(axis=1), (~bad).sum(axis=1)
        rank_sum = (rankdata(-goods, axis=1) * bad).sum(axis=1)  # Mann–Whitney U of badness ranks
        auroc = (rank_sum - n_bad * (n_bad + 1) / 2) / (n_bad * n_good)
        return np.where((n_bad > 0) & (n_good > 0), auroc, np.nan)


def bootstrap(rows: pd.DataFrame, column: str, metric: str, seed: int) -> np.ndarray:
    """`metric` of `column` on BOOTSTRAP resamples of `rows`' clips; one seed draws the same clips for every
    column, so two columns' draws pair."""
    draws = np.random.default_rng(seed).integers(len(rows), size=(BOOTSTRAP, len(rows)))
    return resampled(rows["wer"].to_numpy(dtype=float), oriented(rows[column], column), metric, draws)


def difference(ours: np.ndarray, theirs: np.ndarray, value: float) -> Interval:
    """95 % interval of ours − theirs over draws where both are defined."""
    both = np.isfinite(ours) & np.isfinite(theirs)
    return interval((ours - theirs)[both], value)


def language(name: str, rows: pd.DataFrame) -> Language:
    columns = [c for c in score_columns(rows) if c != "combined_tuned"] + [c for c in [DEV_COMBINED] if c in rows]
    metrics = pd.DataFrame({c: column_metrics(rows, c) for c in columns}).T
    return Language(name, rows, metrics)


def by_language(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """English, every other language, and the other languages pooled, each with its rows."""
    names = ["en", *sorted(set(rows["lang"]) - {"en"})]
    return [*((n, rows[rows["lang"] == n]) for n in names), (OTHERS, rows[rows["lang"] != "en"])]


def languages(table: pd.DataFrame, flagged: bool = False) -> list[Language]:
    """Each of `by_language` on the referenced clips a recipe may keep: status ok, as the study and the calibration
    judge scores (flagged clips, such as labels looping to the token limit or heavily clipped audio, are out
    unless a user lets them in, or `flagged`)."""
    rows = referenced(table)
    return [language(name, part) for name, part in by_language(rows if flagged else rows[rows["status"] == "ok"])]


def flagged_counts(table: pd.DataFrame) -> dict[str, int]:
    """Per language (and pooled), the referenced clips that `languages` leaves out as flagged."""
    return {name: int((part["status"] != "ok").sum()) for name, part in by_language(referenced(table))}


def flag_reasons(table: pd.DataFrame) -> dict[str, int]:
    """How many referenced flagged clips carry each kind of reason (its words before any ':' or '('), most first."""
    rows = referenced(table)
    reasons = rows.loc[rows["status"] != "ok", "reason"].fillna("").str.split("; ").explode()
    kinds = reasons[reasons != ""].str.split(r"[:(]", regex=True).str[0].str.strip()
    return {str(k): int(v) for k, v in kinds.value_counts().items()}


def best_column(metrics: pd.DataFrame, columns: list[str], metric: str) -> str | None:
    """The column among `columns` with the best `metric` in `metrics` (lowest kept WER, else highest); None
    without one."""
    present = [c for c in columns if c in metrics.index and pd.notna(metrics.loc[c, metric])]
    if not present:
        return None
    values = metrics.loc[present, metric].astype(float)
    return values.idxmin() if metric == KEPT else values.idxmax()


def family_best(metrics: pd.DataFrame, family: str, metric: str) -> float:
    """The family's best value of `metric` here; NaN without a column."""
    column = best_column(metrics, FAMILIES[family], metric)
    return float(metrics.loc[column, metric]) if column else np.nan


def metric_table(results: list[Language], metric: str) -> pd.DataFrame:
    """`metric` per language (rows) and family (columns, each its best member), with combined beside them."""
    table = {}
    for lang in results:
        bad = int((lang.rows["wer"] > CUTS[0] + FLOAT32_SLACK).sum())
        row = {"clips": str(len(lang.rows)), f"above {CUTS[0]:.0%}": str(bad)}  # text: the table prints no decimals
        row |= {family: family_best(lang.metrics, family, metric) for family in FAMILIES}
        row |= {c: lang.metrics.loc[c, metric] if c in lang.metrics.index else np.nan for c in COMBINED
                if c == "combined" or any(c in other.metrics.index for other in results)}
        table[lang.name] = row
    return pd.DataFrame.from_dict(table, orient="index").rename_axis("language")


def combined_members(calibration: Calibration | None) -> list[str]:
    """The columns a calibration combines."""
    return [f.column for f in calibration.features] if calibration else []


def dev_calibration(dev: Path, threads: int) -> Calibration:
    """A calibration fitted (as `benchmarks/calibrate.py` fits the shipped one) on the corpus's dev side in `dev`,
    its clips judged by this report's error rates (CER for BY_CHARACTERS, Japanese on kana readings)."""
    return calibrate(referenced(scored_table(dev, threads, DEV)).reset_index(drop=True))


def family_of(column: str) -> str:
    return next(family for family, columns in FAMILIES.items() if column in columns)


def goal_lines(results: list[Language], metric: str, calibrations: dict[str, Calibration | None]) -> list[str]:
    """The issue's two goals on `metric` (one of RANKED), each with a 95 % bootstrap interval over clips: the best
    family's gap to English, and each combined column (`calibrations`: column → its calibration) against its best
    member in every language with MIN_CLIPS clips."""
    by_name = {lang.name: lang for lang in results}
    family_columns = [c for columns in FAMILIES.values() for c in columns]
    lines = []
    en, others = by_name.get("en"), by_name.get(OTHERS)
    ours, theirs = (best_column(lang.metrics, family_columns, metric) if lang else None for lang in (en, others))
    if ours and theirs:
        value = en.metrics.loc[ours, metric] - others.metrics.loc[theirs, metric]
        gap = difference(bootstrap(en.rows, ours, metric, 0), bootstrap(others.rows, theirs, metric, 1), value)
        lines.append(f"- {metric}: best family on English {family_of(ours)} ({ours} {en.metrics.loc[ours, metric]:.3f}); "
                     f"on the other languages pooled {family_of(theirs)} ({theirs} "
                     f"{others.metrics.loc[theirs, metric]:.3f}); gap {gap.text()} (goal ≤ {GOAL_GAP}: "
                     f"{'met' if value <= GOAL_GAP else 'not met'})")
    for column, calibration in calibrations.items():
        lines += [line for lang in results if (line := member_line(lang, metric, column, calibration))]
    return lines


def member_line(lang: Language, metric: str, column: str, calibration: Calibration | None) -> str | None:
    """`column` against the best of its calibration's members in `lang`, with a paired interval; None where the
    goal does not apply (the pooled languages, fewer than MIN_CLIPS clips, no value)."""
    member = best_column(lang.metrics, combined_members(calibration), metric)
    if (lang.name == OTHERS or len(lang.rows) < MIN_CLIPS or not member or column not in lang.metrics.index
            or pd.isna(lang.metrics.loc[column, metric])):
        return None
    value = lang.metrics.loc[column, metric] - lang.metrics.loc[member, metric]
    margin = difference(bootstrap(lang.rows, column, metric, 0), bootstrap(lang.rows, member, metric, 0), value)
    return (f"- {metric}, {lang.name}: {column} {lang.metrics.loc[column, metric]:.3f} "
            f"{'≥' if value >= -1e-9 else '<'} its best member {member} {lang.metrics.loc[member, metric]:.3f} "
            f"(difference {margin.text()})")


def readability(table: pd.DataFrame) -> pd.DataFrame:
    """Per language and speech source, how many clean clips' labels (and proxy transcripts, where a proxy read them)
    have an error rate of at most the first cut, and their median error rate: which voices each model can read
    (flagged clips in: a loop is a label the teacher wrote)."""
    out = {}
    for name, part in by_language(referenced(table)):
        clean = part[part["kind"] == "clean"]
        row = {}
        for source, rows in clean.groupby("source"):
            for model, column in (("teacher", "wer"), ("proxy", "proxy_error")):
                errors = rows[column].dropna()
                if len(errors):
                    row[f"{source} {model} good"] = f"{int((errors <= CUTS[0] + FLOAT32_SLACK).sum())}/{len(errors)}"
                    row[f"{source} {model} median"] = float(errors.median())
        out[name] = row
    return pd.DataFrame.from_dict(out, orient="index").rename_axis("language")


def coverage(table: pd.DataFrame) -> pd.DataFrame:
    """Share of each language's labelled clips that each group scored (NaN where no model reads it)."""
    columns = {"proxy": "proxy_wer", "phoneme": "proxy_per", "align": "align_score", "agreement": "agreement_wer",
               "lm": "lm_nll", "dnsmos": "dnsmos_ovrl"}
    rows = table[table["pseudo_label"].notna()]
    return pd.DataFrame({g: rows.groupby("lang")[c].apply(lambda v: v.notna().mean()) for g, c in columns.items()
                         if c in rows}).rename_axis("language")


def report(command: str, table: pd.DataFrame, dev: Calibration | None = None) -> str:
    """The report on the test side's scores `table`; with `dev`, a calibration fitted on the dev side, its
    combined (DEV_COMBINED) beside the shipped one."""
    calibrations = {"combined": shipped()}
    if dev is not None:
        table, calibrations[DEV_COMBINED] = table.assign(**{DEV_COMBINED: 1 - estimated_wer(table, dev)}), dev
    results = languages(table)
    first, second = (f"auroc@{cut:.0%}" for cut in CUTS)
    good = {lang.name: int((lang.rows["wer"] <= CUTS[0] + FLOAT32_SLACK).sum()) for lang in results}
    return "\n".join([
        "# Label-free scores per language", "", f"Generated by `{command}`.", "",
        "Speech in 13 languages from espeak-ng and Kokoro voices, clean and with the study's graded corruptions "
        "(`benchmarks/language_corpus.py`, its test side); truncated clips left out. Each family shows its best "
        f"column. Error rates are WER, CER for {', '.join(BY_CHARACTERS)} (ja on its kana reading). The proxies are "
        f"`{PROXIES}`: English and Korean. " + calibration_text(calibrations), "",
        "Labels with an error rate of at most 20 % per language: " + ", ".join(f"{k} {v}" for k, v in good.items())
        + ".", "",
        "Score tables are on the clips a recipe may keep (status ok, as in the study); flagged clips left out: "
        + ", ".join(f"{k} {v}" for k, v in flagged_counts(table).items()) + " (by reason: "
        + ", ".join(f"{k} {v}" for k, v in flag_reasons(table).items()) + ").",
        "",
        f"## How well the teacher reads each source (clean clips: labels at most {CUTS[0]:.0%}, median error rate)",
        "", markdown_table(readability(table)), "",
        "## Spearman: goodness vs low error rate", "", markdown_table(metric_table(results, "spearman")), "",
        f"## AUROC for an error rate above {CUTS[0]:.0%}", "", markdown_table(metric_table(results, first)), "",
        f"## AUROC for an error rate above {CUTS[1]:.0%}", "", markdown_table(metric_table(results, second)), "",
        "## Kept-set error rate at 70 % (duration-weighted)", "", markdown_table(metric_table(results, KEPT)), "",
        "## Goals (issue #17)", "", f"Intervals: 95 % bootstrap over clips ({BOOTSTRAP} draws; combined and its member on "
        "the same draws).", "", *(line for metric in (first, second, "spearman")
                                  for line in goal_lines(results, metric, calibrations)),
        "- with flagged clips in (no default recipe keeps them), " + goal_lines(languages(table, flagged=True), first,
                                                                              {})[0].removeprefix("- "), "",
        "## Which groups score which language (share of labelled clips)", "", markdown_table(coverage(table), 2), "",
    ])


def calibration_text(calibrations: dict[str, Calibration | None]) -> str:
    """What each combined column combines."""
    def members(calibration: Calibration | None) -> str:
        return ", ".join(f"`{f.column}` ({f.weight:.2f})" for f in calibration.features) if calibration else "nothing"

    text = f"`combined` is the shipped calibration ({members(calibrations['combined'])})"
    if DEV_COMBINED in calibrations:
        dev = calibrations[DEV_COMBINED]
        text += (f"; `{DEV_COMBINED}` one fitted the same way on the corpus's dev side ({dev.source.get('clips')} clips "
                 f"of other sentences, voices and seed: {members(dev)})")
    return text + "."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="test side's corpus and workspace folder (reused)")
    parser.add_argument("--dev", type=Path, help="dev side's corpus and workspace folder (reused): fit a calibration "
                                                 "there and report its combined beside the shipped one")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument("--markdown", type=Path, help="write the report here")
    args = parser.parse_args()
    dev = dev_calibration(args.dev, args.threads) if args.dev else None
    command = f"python benchmarks/languages.py --out OUT{' --dev DEV' if args.dev else ''} --threads {args.threads}"
    text = report(command, scored_table(args.out, args.threads), dev)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
