"""Fit the calibration behind `combined` and the estimated kept-set WER (issue #16) on a development corpus.

    python benchmarks/study_corpus.py --out DEV/corpus --part dev --seed 11 --size 300
    whisper-curator score DEV/corpus/pool/manifest.jsonl --workspace DEV/ws --add truncation,proxy,phoneme,align,lm
    python benchmarks/calibrate.py --workspace DEV/ws [--out engine/scores/calibration.json]

The development corpus is the `dev` half of the study corpus (its own sentences, voices and speakers);
the study reports on the `test` half, so no reported number comes from the data fitted here. Truncated
clips are left out: their reference is the whole sentence, not the words still audible.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.analysis.calibrate import calibrate  # noqa: E402
from engine.io.atomic import write_text_atomic  # noqa: E402
from engine.io.workspace import MANIFEST, Workspace  # noqa: E402
from engine.scores.calibration import CALIBRATION_FILE  # noqa: E402

UNREFERENCED_KINDS = ("truncated",)  # the reference says more than the clip does


def referenced_scores(ws: Workspace) -> pd.DataFrame:
    """The workspace's scores with `wer`/`cer` blanked where the reference is not what the clip says."""
    table = ws.read_scores()
    kinds = pd.read_json(ws.path(MANIFEST), lines=True).set_index("id").get("kind")
    if kinds is not None:
        unreferenced = table["id"].map(kinds).isin(UNREFERENCED_KINDS).to_numpy()
        table.loc[unreferenced, [c for c in ("wer", "cer") if c in table]] = float("nan")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, required=True, help="scored workspace of the development corpus")
    parser.add_argument("--corpus", type=Path, default=None,
                        help="the development corpus's folder (its corpus.json is recorded in the calibration)")
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE, help="calibration file to write")
    parser.add_argument("--seed", type=int, default=0, help="cross-validation folds' seed")
    args = parser.parse_args()
    ws = Workspace(args.workspace)
    calibration = calibrate(referenced_scores(ws), args.seed)
    command = "python benchmarks/calibrate.py " + " ".join(sys.argv[1:])
    corpus = json.loads((args.corpus / "corpus.json").read_text()) if args.corpus else {}
    source = {"command": command, "corpus": {k: corpus[k] for k in ("part", "seed", "size") if k in corpus},
              **calibration.source}
    write_text_atomic(args.out, replace(calibration, source=source).to_json() + "\n")
    chosen = ", ".join(f"{f.column} ({f.weight:.2f})" for f in calibration.features)
    print(f"calibrated on {source['clips']} clips: {chosen}; out-of-fold kept-set WER error ≤ {source['max_abs_error']:.3f}")


if __name__ == "__main__":
    main()
