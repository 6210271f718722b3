"""Byte-identity check: every table a fixed set of runs writes, hashed against a record.

Runs every scenario in ``conf/scenario/`` on two seeds at 20k borrowers, the
baseline at the default scale, a small Hydra sweep (its job tables and its
aggregate tables) and the per-agent reference, then compares the SHA-256 of
every CSV written with ``benchmarks/table_checksums.json``.

    python benchmarks/table_checksums.py            # compare; exit 1 on any difference
    python benchmarks/table_checksums.py --record   # (re)write the record

A refactoring that keeps the model's behaviour leaves every checksum unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECORD = ROOT / "benchmarks" / "table_checksums.json"
SEEDS = (1, 2)
SCALE = "market.n_borrowers=20000"
SWEEP = (
    "regulation.rate_cap_apr=0.18,0.24",
    "seed=0,1",
    "market.n_borrowers=5000",
    "plots=false",
    "hydra.callbacks.sweep_aggregate.baseline='regulation.rate_cap_apr=0.24'",
)
SWEEP_TABLES = ("sweep_yearly.csv", "sweep_jobs.csv", "comparison.csv", "failed.csv", "summary.md")
PER_AGENT_BORROWERS = 1500


def sha(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def scenario_runs(work: Path) -> dict[str, str]:
    """Checksums of the tables of every scenario x seed, and of the default-scale baseline."""
    from sim.run import run_simulation
    from tests.conftest import compose_config

    cases = [
        (path.stem, seed, SCALE)
        for path in sorted((ROOT / "conf" / "scenario").glob("*.yaml"))
        for seed in SEEDS
    ]
    cases.append(("baseline", 0, "market.n_borrowers=100000"))
    out: dict[str, str] = {}
    for scenario, seed, scale in cases:
        cfg = compose_config(f"scenario={scenario}", f"seed={seed}", scale, "plots=false")
        run_dir = work / f"{scenario}_{seed}_{scale.split('=')[1]}"
        result = run_simulation(cfg, run_dir, progress=False)
        for name in (n for n in result["files"] if n.endswith(".csv")):
            out[f"run/{run_dir.name}/{name}"] = sha(run_dir / name)
        print(f"  {run_dir.name}", flush=True)
    return out


def sweep_run(work: Path) -> dict[str, str]:
    """Checksums of a small multirun: each job's tables and the aggregate tables."""
    sweep_dir = work / "sweep"
    cmd = [sys.executable, "-m", "sim", "-m", *SWEEP, f"hydra.sweep.dir={sweep_dir}"]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    out: dict[str, str] = {}
    for path in sorted(sweep_dir.glob("*/*.csv")):
        out[f"sweep/{path.parent.name}/{path.name}"] = sha(path)
    for name in SWEEP_TABLES:  # summary.md names the sweep's (temporary) directory
        text = (sweep_dir / name).read_text().replace(str(sweep_dir), "SWEEP_DIR")
        out[f"sweep/{name}"] = hashlib.sha256(text.encode()).hexdigest()
    print("  sweep", flush=True)
    return out


def per_agent_runs(work: Path) -> dict[str, str]:
    """Checksums of the per-agent reference's tables on two seeds."""
    from benchmarks.per_agent import PerAgentModel
    from sim.output.tables import build_tables, write_tables
    from tests.conftest import compose_config

    out: dict[str, str] = {}
    for seed in SEEDS:
        cfg = compose_config(f"market.n_borrowers={PER_AGENT_BORROWERS}", f"seed={seed}")
        model = PerAgentModel(cfg)
        tables = build_tables(model.run(), model.book.type_code.copy())
        run_dir = work / f"per_agent_{seed}"
        for path in write_tables(tables, run_dir):
            out[f"per_agent/{seed}/{path.name}"] = sha(path)
    print("  per-agent reference", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    """Compute every checksum; compare with (or ``--record``) the committed list."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="rewrite the recorded checksums")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sums = {**scenario_runs(work), **sweep_run(work), **per_agent_runs(work)}
    if args.record:
        RECORD.write_text(json.dumps(sums, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(sums)} checksums in {RECORD.relative_to(ROOT)}")
        return 0
    recorded = json.loads(RECORD.read_text())
    differ = sorted(k for k in recorded.keys() | sums.keys() if recorded.get(k) != sums.get(k))
    for key in differ:
        print(f"DIFFERS {key}: recorded {recorded.get(key)}, now {sums.get(key)}")
    print(f"{len(sums) - len(differ)} of {len(recorded)} tables byte-identical")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
