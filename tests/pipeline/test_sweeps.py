"""Sweeps end to end: config files, aggregation, failures, resuming, and every launcher.

One tiny sweep (rate cap 0.2 and 0.3 and an invalid -1, seeds 0 and 1, 2,000
borrowers, 2024-2025) runs once with the basic launcher; the other launchers
must give byte-identical tables, and a resumed copy must too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from omegaconf import DictConfig, OmegaConf

from scenarios.sweep.io import expected_jobs, parameters
from sim import validation
from sim.cli import run_sweep_job
from sim.output.files import checksums
from sim.output.identity import code_identity
from sim.output.result import config_hash
from sim.validation import load_config

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
SWEEPS = sorted(p.stem for p in (CONF / "sweep").glob("*.yaml"))
TINY = (
    "sweep=rate_cap",
    "market.n_borrowers=2000",
    "market.end=2025-12",
    "regulation.rate_cap_apr=0.2,0.3,-1",
    "seed=0,1",
)
TABLES = (
    "sweep_yearly.csv",
    "sweep_yearly.parquet",
    "sweep_lenders.parquet",
    "sweep_jobs.csv",
    "failed.csv",
    "comparison.csv",
)


def run_sweep(sweep_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    """``python -m sim TINY hydra.sweep.dir=SWEEP_DIR EXTRA`` as a user would run it."""
    proc = subprocess.run(
        [sys.executable, "-m", "sim", *TINY, f"hydra.sweep.dir={sweep_dir}", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "1", "RAY_DEDUP_LOGS": "0"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> Path:
    """The tiny sweep run once with Hydra's basic (serial) launcher."""
    sweep_dir = tmp_path_factory.mktemp("serial") / "sweep"
    run_sweep(sweep_dir)
    return sweep_dir


def compose_sweep(name: str, *overrides: str):
    """The composed config (with Hydra's node) of ``python -m sim sweep=NAME``."""
    return validation.compose_dictconfig(f"sweep={name}", *overrides, with_hydra=True)


@pytest.mark.parametrize("name", SWEEPS)
def test_sweep_files_are_multiruns_on_common_seeds(name):
    """Each conf/sweep file composes, sets MULTIRUN, sweeps seeds explicitly, and expands to a
    full grid in which every policy point gets exactly the same seeds (common random numbers).
    """
    cfg = compose_sweep(name)
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    assert "seed" in params
    jobs = expected_jobs(params, [f"sweep={name}"])
    seeds_by_point: dict[tuple, list[str]] = {}
    for job in jobs:
        p = parameters(job)
        point = tuple((k, v) for k, v in p.items() if k != "seed")
        seeds_by_point.setdefault(point, []).append(p["seed"])
    seed_lists = {tuple(seeds) for seeds in seeds_by_point.values()}
    assert len(seed_lists) == 1 and len(next(iter(seed_lists))) >= 2
    assert len(seeds_by_point) >= 3
    n_values = [len(str(v).split(",")) for k, v in params.items() if k != "seed"]
    n_points = 1
    for n in n_values:
        n_points *= n
    assert len(seeds_by_point) == n_points


def test_rate_cap_sweep_has_the_four_caps_and_2d_sweep_two_axes():
    """rate_cap sweeps exactly 0.12, 0.18, 0.24, 0.36; the 2-D sweep has two policy axes."""
    params = OmegaConf.to_container(compose_sweep("rate_cap").hydra.sweeper.params)
    caps = [float(v) for v in params["regulation.rate_cap_apr"].split(",")]
    assert caps == [0.12, 0.18, 0.24, 0.36]
    two_d = OmegaConf.to_container(compose_sweep("rate_cap_x_entry_capital").hydra.sweeper.params)
    assert len([k for k in two_d if k != "seed"]) == 2


@pytest.mark.parametrize("option", ["x0_00", "x0_50", "x1_00", "x1_25"])
def test_tech_subsidy_options_scale_the_report_path(option):
    """Each tech_subsidy_path option is the default path times its factor, capped at 1, and
    composes into a valid config.
    """
    factor = float(option[1:].replace("_", "."))
    default = yaml.safe_load((CONF / "regulation" / "default.yaml").read_text())["tech_subsidy"]
    cfg = compose_sweep("tech_subsidy", f"+sweep/tech_subsidy_path={option}")
    path = OmegaConf.to_container(cfg.regulation.tech_subsidy)
    assert path.keys() == default.keys()
    for year, value in default.items():
        assert path[year] == pytest.approx(min(1.0, factor * value), abs=1e-9)
    load_config(compose_dictconfig(f"+sweep/tech_subsidy_path={option}"))


def test_serial_sweep_aggregates_and_lists_the_failed_point(serial):
    """The serial sweep writes the long tables in job/year order with the overridden parameters
    as columns, the invalid point's two jobs in failed.csv with the validation error, and a
    comparison saying that point misses both seeds while the others have both.
    """
    for name in (*TABLES, "summary.md", "concentration.png", "type_shares.png"):
        assert (serial / name).stat().st_size > 0, name
    yearly = pd.read_parquet(serial / "sweep_yearly.parquet")
    assert yearly["job"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert yearly["year"].tolist() == [2024, 2025] * 4
    assert yearly["regulation.rate_cap_apr"].tolist() == [0.2] * 4 + [0.3] * 4
    assert yearly["seed"].tolist() == [0, 0, 1, 1] * 2
    for column in ("hhi", "cr5", "online_share", "avg_rate", "npl_ratio", "n_active", "unmet"):
        assert column in yearly.columns
    csv = pd.read_csv(serial / "sweep_yearly.csv")
    pd.testing.assert_frame_equal(csv, yearly, check_dtype=False)
    for job in (0, 3):  # each job's rows are its own market_yearly.csv
        own = pd.read_csv(serial / str(job) / "market_yearly.csv")
        mine = yearly[yearly["job"] == job].reset_index(drop=True)[own.columns]
        pd.testing.assert_frame_equal(mine, own)
    lenders = pd.read_parquet(serial / "sweep_lenders.parquet")
    assert sorted(lenders["job"].unique()) == [0, 1, 2, 3]
    failed = pd.read_csv(serial / "failed.csv")
    assert failed["job"].tolist() == [4, 5]
    assert (failed["status"] == "failed").all()
    assert failed["error"].str.contains("regulation.rate_cap_apr").all()
    comparison = pd.read_csv(serial / "comparison.csv", dtype={"missing_seeds": str})
    missing = comparison.groupby("point")["missing_seeds"].first().fillna("")
    assert missing.to_dict() == {
        "rate_cap_apr=-1": "0 1",
        "rate_cap_apr=0.2": "",
        "rate_cap_apr=0.3": "",
    }
    assert "rate_cap_apr=-1: seed 0 1" in (serial / "summary.md").read_text()


def test_joblib_gives_identical_tables(serial, tmp_path):
    """The local-parallel joblib launcher writes byte-identical tables to the serial one."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    run_sweep(tmp_path / "sweep", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    for name in TABLES:
        assert (tmp_path / "sweep" / name).read_bytes() == (serial / name).read_bytes(), name


def test_ray_gives_identical_tables(serial, tmp_path):
    """The Ray launcher (a local 2-CPU Ray, no dashboard) writes byte-identical tables."""
    pytest.importorskip("ray")
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    run_sweep(
        tmp_path / "sweep",
        "hydra/launcher=ray",
        "+hydra.launcher.ray.init.num_cpus=2",
        "+hydra.launcher.ray.init.include_dashboard=false",
    )
    for name in TABLES:
        assert (tmp_path / "sweep" / name).read_bytes() == (serial / name).read_bytes(), name


def test_submitit_local_gives_identical_tables(serial, tmp_path):
    """The submitit launcher, run locally (the Slurm one's twin), writes identical tables."""
    pytest.importorskip("submitit")
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    run_sweep(tmp_path / "sweep", "hydra/launcher=submitit_local")
    for name in TABLES:
        assert (tmp_path / "sweep" / name).read_bytes() == (serial / name).read_bytes(), name


def test_rerun_completes_only_unfinished_jobs(serial, tmp_path):
    """Rerunning into the same directory skips complete jobs with the same config hash and
    reruns exactly the one without result.json, the one left 'running' (as after a kill) and
    the one whose stored hash differs; the final tables are byte-identical.
    """
    copy = tmp_path / "sweep"
    shutil.copytree(serial, copy)
    for name in TABLES:
        (copy / name).unlink()
    (copy / "0" / "result.json").unlink()
    for job, field, value in ((1, "status", "running"), (2, "config_hash", "0" * 16)):
        path = copy / str(job) / "result.json"
        result = json.loads(path.read_text())
        result[field] = value
        path.write_text(json.dumps(result))
    proc = run_sweep(copy)
    log = proc.stdout + proc.stderr
    ran = sorted(
        int(line.rsplit("/", 1)[-1]) for line in log.splitlines() if "Running scenario" in line
    )
    skipped = sorted(
        int(line.split("skipping ", 1)[1].split(":")[0].rsplit("/", 1)[-1])
        for line in log.splitlines()
        if "skipping " in line
    )
    assert ran == [0, 1, 2] and skipped == [3]
    for name in TABLES:
        assert (copy / name).read_bytes() == (serial / name).read_bytes(), name


def compose_dictconfig(*overrides: str) -> DictConfig:
    """A composed (not validated) task config at test scale."""
    return validation.compose_dictconfig("market.n_borrowers=2000", "plots=false", *overrides)


def test_job_that_raises_is_recorded_not_raised(tmp_path, monkeypatch):
    """A sweep job whose simulation raises returns None and leaves result.json 'failed' with the
    error, instead of stopping the sweep.
    """
    import sim.run

    def boom(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(sim.run, "simulate", boom)
    assert run_sweep_job(compose_dictconfig(), tmp_path) is None
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "failed" and "simulated crash" in result["error"]


def test_refused_config_is_recorded_not_raised(tmp_path):
    """A sweep job whose config fails validation returns None and records the problem."""
    assert run_sweep_job(compose_dictconfig("regulation.rate_cap_apr=-1"), tmp_path) is None
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "failed" and "regulation.rate_cap_apr" in result["error"]


def test_complete_job_is_skipped_with_its_stored_headline(tmp_path, monkeypatch):
    """A job whose directory holds a complete result.json with its own config hash and code
    identity, and tables matching their checksums, is not simulated again; it returns the
    stored final HHI.
    """
    import sim.cli

    cfg = compose_dictconfig()
    wanted = config_hash(load_config(cfg))
    names = ("market_yearly.csv", "lenders_yearly.csv")
    for name in names:
        (tmp_path / name).write_text("year\n2024\n")
    record = {
        "status": "complete",
        "config_hash": wanted,
        "code": code_identity(),
        "checksums": checksums(tmp_path, names),
        "headline": {"hhi_last": 1234.5},
    }
    (tmp_path / "result.json").write_text(json.dumps(record))

    def must_not_run(*args, **kwargs):
        raise AssertionError("simulated although complete")

    monkeypatch.setattr(sim.cli, "run_simulation", must_not_run)
    assert run_sweep_job(cfg, tmp_path) == 1234.5
