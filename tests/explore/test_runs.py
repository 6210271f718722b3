"""The runs behind the Run page: the command line's tables, reuse, cancel, results, sweeps."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from explore import form, runner
from explore.results import headline_rows, load, policy_label, tables_zip
from explore.sweeps import filter_points, find_sweeps, load_sweep
from scenarios.sweep.compare import compare
from sim.output.tables import TABLES

ROOT = Path(__file__).resolve().parents[2]
SMALL = "5000"
SEEDS = (0, 1)


def specs_of(f: form.Form) -> list[runner.RunSpec]:
    out = []
    points = [("policy", form.overrides(f))]
    if f.compare:
        points.append((runner.BASELINE, form.baseline_overrides(f)))
    for seed in f.seeds:
        for point, texts in points:
            full = (*texts, f"seed={seed}")
            cfg, problems = form.check(full)
            assert problems == []
            out.append(runner.RunSpec(point, seed, full, cfg))
    return out


FORM = form.Form(values={"regulation.rate_cap_apr": "0.18"}, seeds=SEEDS, n_borrowers=SMALL)


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> tuple[Path, list[runner.Done]]:
    root = tmp_path_factory.mktemp("explore")
    return root, runner.execute(specs_of(FORM), root)


def test_a_page_run_writes_the_command_lines_tables_byte_for_byte(batch, tmp_path):
    """The page's run of a config and seed writes the same table files, byte for byte, as
    ``python -m sim`` with the same overrides (the command the page shows).
    """
    _, done = batch
    first = done[0]
    cli_dir = tmp_path / "cli"
    subprocess.run(
        [sys.executable, "-m", "sim", *first.spec.overrides, f"hydra.run.dir={cli_dir}"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    for name in TABLES:
        assert (first.directory / name).read_bytes() == (cli_dir / name).read_bytes(), name


def test_every_run_is_complete_and_a_second_batch_reuses_it(batch):
    """Each run of the batch is recorded complete; running the same batch again runs nothing
    (each directory's result.json is left as it was) and gives the same directories.
    """
    root, done = batch
    before = {d.directory: (d.directory / "result.json").read_bytes() for d in done}
    assert all(json.loads(b)["status"] == "complete" for b in before.values())
    again = runner.execute([d.spec for d in done], root)
    assert [d.directory for d in again] == list(before)
    assert all((d / "result.json").read_bytes() == b for d, b in before.items())


def test_progress_counts_every_simulated_month_once(tmp_path):
    """Progress rises month by month to the batch's total months and ends there."""
    spec = specs_of(form.Form(seeds=(3,), n_borrowers="2000", compare=False))[0]
    seen: list[tuple[int, int]] = []
    runner.execute([spec], tmp_path, progress=lambda d, t: seen.append((d, t)))
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == spec.months
    assert {t for _, t in seen} == {spec.months}


def test_cancel_stops_between_months_and_publishes_no_table(tmp_path):
    """Cancel (keep_going false) stops the run after the month it is in; its directory holds
    no table and its record is not complete.
    """
    spec = specs_of(form.Form(seeds=(4,), n_borrowers="2000", compare=False))[0]
    months: list[int] = []

    def keep_going() -> bool:
        return len(months) < 3

    with pytest.raises(runner.CancelledError):
        runner.execute([spec], tmp_path, lambda d, t: months.append(d), keep_going)
    directory = spec.directory(tmp_path)
    assert len(months) == 3 < spec.months
    assert not any((directory / name).exists() for name in TABLES)
    assert json.loads((directory / "result.json").read_text())["status"] != "complete"


def test_results_pair_the_policy_with_the_baseline_on_each_seed(batch):
    """The results table's policy value is the seed mean of the runs' own last-year tables,
    and its difference is the mean of the per-seed differences from the baseline.
    """
    _, done = batch
    label = policy_label(form.overrides(FORM), True)
    results = load(done, label)
    rows = {r["metric"]: r for r in headline_rows(results)}
    last = {
        (d.spec.point, d.spec.seed): pd.read_csv(d.directory / "market_yearly.csv").iloc[-1]
        for d in done
    }
    policy = [float(last[("policy", s)]["hhi"]) for s in SEEDS]
    diffs = [policy[i] - float(last[("baseline", s)]["hhi"]) for i, s in enumerate(SEEDS)]
    assert rows["hhi"][label].startswith(f"{sum(policy) / len(policy):,.0f} [")
    mean_diff = sum(diffs) / len(diffs)
    assert rows["hhi"]["difference"].startswith(f"{mean_diff:+,.0f}".replace("+-", "-"))
    assert rows["hhi"]["pairs"] == str(len(SEEDS))


def test_the_download_holds_every_table_of_every_run(batch):
    """The zip has each run's CSV and Parquet tables under POINT/seedN/, byte-identical."""
    _, done = batch
    results = load(done, "policy")
    archive = zipfile.ZipFile(io.BytesIO(tables_zip(results)))
    for d in done:
        for name in TABLES:
            stored = archive.read(f"{d.spec.point}/seed{d.spec.seed}/{name}")
            assert stored == (d.directory / name).read_bytes()
    assert "comparison.csv" in archive.namelist()


def test_the_sweeps_page_reads_a_comparison_directory_and_filters_its_points(batch, tmp_path):
    """A directory written by the comparison is found under its root and read back: its
    summary, table and figures; filtering by a metric keeps only that metric's rows.
    """
    _, done = batch
    out = tmp_path / "sweeps" / "cap"
    compare([d.directory for d in done], out_dir=out)
    assert find_sweeps(tmp_path / "sweeps") == [out]
    sweep = load_sweep(out)
    assert sweep.summary.startswith("# Policy comparison")
    assert sweep.comparison is not None and sweep.figures
    hhi = filter_points(sweep.comparison, {}, ["hhi"])
    assert set(hhi["metric"]) == {"hhi"} and len(hhi) == sweep.comparison["point"].nunique()
    with pytest.raises(FileNotFoundError):
        load_sweep(tmp_path)


def test_discovery_results_are_found_beside_a_sweep_or_in_its_discover_folder(tmp_path):
    """A discovery report and its companions are listed, report first, where they stand; a
    folder without the report lists none, and a discovery's figures are not sweep figures.
    """
    sweep = tmp_path / "sweep"
    (sweep / "discover_hhi").mkdir(parents=True)
    (sweep / "summary.md").write_text("# Policy comparison\n")
    (sweep / "concentration.png").write_bytes(b"png")
    (sweep / "discover_hhi" / "feature_scores.csv").write_text("input,score\n")
    assert load_sweep(sweep).discovery == []
    (sweep / "discover_hhi" / "discovery.md").write_text("# Discovery\n")
    (sweep / "feature_scores.png").write_bytes(b"png")  # no report beside it: a sweep figure
    found = load_sweep(sweep)
    assert found.discovery == [
        sweep / "discover_hhi" / "discovery.md",
        sweep / "discover_hhi" / "feature_scores.csv",
    ]
    assert found.figures == [sweep / "concentration.png", sweep / "feature_scores.png"]
    (sweep / "discovery.md").write_text("# Discovery\n")
    assert load_sweep(sweep).discovery[:2] == [sweep / "discovery.md", sweep / "feature_scores.png"]
    assert load_sweep(sweep).figures == [sweep / "concentration.png"]
