"""The calibration-and-validation tables of docs/ODD.md, generated from the committed files.

    python -m scenarios.validation_report                    # print the section
    python -m scenarios.validation_report --write docs/ODD.md

The section between ``<!-- validation:start -->`` and ``<!-- validation:end -->``
is rendered from four committed files: the calibration record in
``conf/calibration/baseline.yaml`` (each moment's target, error and weight),
``docs/validation/identification/recovery.csv`` (``lendsim-calibrate --recover
--perturb 0 --budget 1``: identification at the committed point),
``docs/validation/recovery.csv`` (``lendsim-calibrate --recover``) and
``docs/validation/backtest_scores.csv`` (``lendsim-backtest``). A test renders
it again and compares, so the document cannot drift from the files.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from scenarios.calibration_io import read_record
from scenarios.targets import PRICE_TOLERANCE, load_targets, target_rows
from sim.config import CONF_DIR
from sim.output.atomic import atomic_write_text

ROOT = CONF_DIR.parent
CALIBRATION = CONF_DIR / "calibration" / "baseline.yaml"
VALIDATION_DIR = ROOT / "docs" / "validation"
START, END = "<!-- validation:start -->", "<!-- validation:end -->"


def moments_table(record: dict) -> list[str]:
    """Each calibration moment: target, error at the committed fit, tolerance, weight."""
    from scenarios.fitting import WEIGHTS

    targets = load_targets()
    lines = [
        "| moment | target | error (simulated - target) | tolerance | group weight |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    errors = record.get("errors", {})
    for key, target, tol in target_rows(targets):
        group = next(g for g in WEIGHTS if key.startswith(g))
        lines.append(
            f"| `{key}` | {target:.4g} | {errors.get(key, math.nan):+.4f} | {tol:.4g} |"
            f" {WEIGHTS[group]:g} |"
        )
    for key, gap in sorted(errors.items()):
        if key.startswith("price_gap_"):
            name = key.removeprefix("price_gap_")
            weight = WEIGHTS["price_structure"]
            lines.append(
                f"| `{name}` (miss outside its band) | band | {gap:+.4f} |"
                f" {PRICE_TOLERANCE:g} | {weight:g} |"
            )
    return lines


def recovery_lines(path: Path) -> list[str]:
    """The recovered-parameter table of ``recovery.csv``."""
    from scenarios.recovery import table_lines

    return table_lines(pd.read_csv(path))


def backtest_lines(path: Path) -> list[str]:
    """The per-metric back-test scores of ``backtest_scores.csv``, and the overall score."""
    from scenarios.backtest import overall_score, score_lines

    table = pd.read_csv(path)
    finite = table["shape_score"].dropna()
    return [
        *score_lines(table),
        "",
        f"Overall shape score: {overall_score(table):.3f} (mean over {finite.size} metrics).",
    ]


def render(validation_dir: Path = VALIDATION_DIR, calibration: Path = CALIBRATION) -> str:
    """The whole generated block, markers included."""
    record = read_record(calibration)
    lines = [
        START,
        f"Moments of the committed fit (`{calibration.relative_to(ROOT)}`, loss"
        f" {record['loss']:.4f}, seeds {record['seeds']}, {record['n_borrowers']:,} borrowers):",
        "",
        *moments_table(record),
        "",
        "Identification at the committed point (`docs/validation/identification/recovery.csv`,"
        " from `lendsim-calibrate --recover --perturb 0 --budget 1`; the parameters outside"
        " the identified set are fixed, and so is any on the line that freeing made worse"
        " to recover, as `scenarios.fitting.NOT_IDENTIFIED` says):",
        "",
        *recovery_lines(validation_dir / "identification" / "recovery.csv"),
        "",
        "Parameter recovery (`docs/validation/recovery.csv`, from `lendsim-calibrate --recover`;"
        " the noise bound is how far the seed noise the fit chased can carry a parameter from"
        " the truth, `scenarios.recovery.noise_bound`: it shrinks as one over the square root"
        " of the seeds, so pinning a parameter within a tenth of its range takes about"
        " seeds x (bound / 0.1)^2 seeds per evaluation):",
        "",
        *recovery_lines(validation_dir / "recovery.csv"),
        "",
        "Back-test of `history_2019_2024` against `scenarios/data/history_observed.csv`"
        " (`docs/validation/backtest_scores.csv`, from `lendsim-backtest`):",
        "",
        *backtest_lines(validation_dir / "backtest_scores.csv"),
        END,
    ]
    return "\n".join(lines)


def replace_block(document: str, block: str) -> str:
    """``document`` with its generated block replaced (or appended when it has none)."""
    if START in document and END in document:
        head, rest = document.split(START, 1)
        _, tail = rest.split(END, 1)
        return head + block + tail
    return document.rstrip("\n") + "\n\n" + block + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the block, or write it into a Markdown file."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", type=Path, help="Markdown file to update (docs/ODD.md)")
    args = ap.parse_args(argv)
    block = render()
    if args.write:
        atomic_write_text(args.write, replace_block(args.write.read_text(), block))
        print(f"updated {args.write}")
    else:
        sys.stdout.write(block + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
