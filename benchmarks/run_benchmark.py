"""Speed and memory of a full 2024-2030 run, and the per-agent Mesa reference for scale.

    .venv/bin/python benchmarks/run_benchmark.py            # full: about 3 minutes on 2 cores
    .venv/bin/python benchmarks/run_benchmark.py --quick    # smaller sizes, one repeat
    make bench                                              # the same as the first line

Every measurement runs in a fresh subprocess (this script with ``--worker``),
so its peak memory is its own: the parent reads the child's ``ru_maxrss``
from ``os.wait4``. Each point is repeated (``--repeats``, default 3) and the
median time reported. Figures:

* wall time of the model alone (set-up + 84 monthly steps) and with the
  tables built and written as CSV (what ``python -m sim`` does, without plots);
* borrower-months per second (borrowers x months / model time);
* peak resident memory of the process;
* the fitted exponent of model time against borrowers (10k, 100k, 1M) and
  against lenders (50, 500, 5,000 at 100k borrowers, type shares kept), by
  least squares on logs;
* the per-agent Mesa reference (``agents.mesa_borrowers``: every borrower a
  ``mesa.Agent`` stepped with ``shuffle_do``) at 10k and 100k borrowers, and
  the ratio of borrower-months per second.

The figures also go to ``benchmarks/results.json`` (``--json`` to change).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BORROWERS = (10_000, 100_000, 1_000_000)
LENDERS = (50, 500, 5_000)
LENDER_SCALING_BORROWERS = 100_000
MESA_BORROWERS = (10_000, 100_000)
TARGETS = {
    "wall_1m_s": 60.0,
    "peak_1m_gb": 4.0,
    "speedup_vs_mesa_100k": 50.0,
    "exponent_borrowers": 1.1,
    "exponent_lenders": 1.1,
}


# ---------------------------------------------------------------- the worker
def _config(n_borrowers: int, overrides: list[str]):
    from sim.validation import compose

    return compose(f"market.n_borrowers={n_borrowers}", "plots=false", "progress=false", *overrides)


def worker(spec: dict) -> dict:
    """One measurement in this (fresh) process: model time, then tables built and written."""
    sys.path.insert(0, str(ROOT))
    logging.getLogger("MESA").setLevel(logging.WARNING)
    from sim.model import MarketModel
    from sim.output.tables import build_tables, write_tables

    cfg = _config(spec["n"], spec["overrides"])
    model_cls = MarketModel
    if spec["impl"] == "per_agent":
        from benchmarks.per_agent import PerAgentModel

        model_cls = PerAgentModel
    started = time.perf_counter()
    model = model_cls(cfg)
    built = time.perf_counter()
    recorder = model.run()
    ran = time.perf_counter()
    out = {
        "setup_s": built - started,
        "model_s": ran - started,
        "months": len(model.months),
        "n_lenders": int(model.book.n),
        "n_lenders_initial": sum(cfg.lenders[t].count for t in cfg.lenders),
    }
    if spec.get("tables", True):
        tables = build_tables(recorder, model.book.type_code.copy())
        with tempfile.TemporaryDirectory() as tmp:
            write_tables(tables, tmp)
        out["tables_s"] = time.perf_counter() - ran
        out["total_s"] = time.perf_counter() - started
    return out


# ---------------------------------------------------------------- the parent
def measure(spec: dict) -> dict:
    """Run ``spec`` in a fresh subprocess; its result plus its own peak RSS (bytes)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None
    text = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker failed ({proc.returncode}): {spec}")
    result = json.loads(text.decode().strip().splitlines()[-1])
    result["peak_rss_bytes"] = usage.ru_maxrss * 1024  # Linux reports KiB
    return result


def repeated(spec: dict, repeats: int, label: str) -> dict:
    """Median times and the largest peak RSS over ``repeats`` fresh runs."""
    runs = []
    for i in range(repeats):
        runs.append(measure(spec))
        print(f"  {label}: run {i + 1}/{repeats} {runs[-1]['model_s']:.2f} s", file=sys.stderr)
    keys = ("setup_s", "model_s", "tables_s", "total_s")
    out = {k: statistics.median(r[k] for r in runs) for k in keys if k in runs[0]}
    out["model_s_all"] = [round(r["model_s"], 3) for r in runs]
    out["peak_rss_mb"] = max(r["peak_rss_bytes"] for r in runs) / 2**20
    out["months"] = runs[0]["months"]
    out["n_lenders_initial"] = runs[0]["n_lenders_initial"]
    out["n_lenders_final"] = runs[0]["n_lenders"]
    out["borrower_months_per_s"] = spec["n"] * out["months"] / out["model_s"]
    return out


def lender_overrides(total: int) -> list[str]:
    """Lender counts summing to ``total`` with the configured type shares (largest remainder)."""
    cfg = _config(1000, [])
    counts = {t: cfg.lenders[t].count for t in cfg.lenders}
    base = sum(counts.values())
    exact = {t: total * c / base for t, c in counts.items()}
    scaled = {t: int(np.floor(x)) for t, x in exact.items()}
    for t in sorted(exact, key=lambda t: exact[t] - scaled[t], reverse=True):
        if sum(scaled.values()) >= total:
            break
        scaled[t] += 1
    return [f"lenders.{t}.count={c}" for t, c in scaled.items()]


def exponent(xs: list[float], ys: list[float]) -> float:
    """Slope of ``log y`` on ``log x`` by least squares."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the figures; write them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=None, help="runs per point (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    repeats = args.repeats or (1 if args.quick else 3)
    borrowers = BORROWERS[:2] if args.quick else BORROWERS
    lenders = LENDERS[:2] if args.quick else LENDERS
    mesa_sizes = MESA_BORROWERS[:1] if args.quick else MESA_BORROWERS
    seed = [f"seed={args.seed}"]
    results: dict = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
        "repeats": repeats,
        "borrowers": {},
        "lenders": {},
        "per_agent": {},
    }
    print(f"cores (os.cpu_count): {os.cpu_count()}; {repeats} run(s) per point, medians")
    for n in borrowers:
        spec = {"n": n, "overrides": seed, "impl": "vectorised"}
        results["borrowers"][n] = repeated(spec, repeats, f"{n:,} borrowers")
    for total in lenders:
        spec = {
            "n": LENDER_SCALING_BORROWERS,
            "overrides": [*seed, *lender_overrides(total)],
            "impl": "vectorised",
            "tables": True,
        }
        results["lenders"][total] = repeated(spec, repeats, f"{total:,} lenders")
    for n in mesa_sizes:
        spec = {"n": n, "overrides": seed, "impl": "per_agent", "tables": False}
        results["per_agent"][n] = repeated(spec, repeats, f"{n:,} per-agent Mesa borrowers")

    b = results["borrowers"]
    print()
    print("Full run 2024-01..2030-12 (84 months), vectorised borrowers, default lenders:")
    print(
        f"{'borrowers':>10} {'model s':>9} {'+tables s':>10} {'borrower-months/s':>18} "
        f"{'peak RSS MB':>12}"
    )
    for n, r in b.items():
        print(
            f"{n:>10,} {r['model_s']:>9.2f} {r['total_s']:>10.2f} "
            f"{r['borrower_months_per_s']:>18,.0f} {r['peak_rss_mb']:>12.0f}"
        )
    ns = list(b)
    results["exponent_borrowers"] = exponent(ns, [b[n]["model_s"] for n in ns])
    print(f"fitted exponent of model time on borrowers: {results['exponent_borrowers']:.2f}")

    lend = results["lenders"]
    print()
    print(f"Lenders at {LENDER_SCALING_BORROWERS:,} borrowers (type shares kept):")
    print(f"{'lenders':>10} {'at end':>7} {'model s':>9} {'+tables s':>10} {'peak RSS MB':>12}")
    for r in lend.values():
        print(
            f"{r['n_lenders_initial']:>10,} {r['n_lenders_final']:>7,} {r['model_s']:>9.2f} "
            f"{r['total_s']:>10.2f} {r['peak_rss_mb']:>12.0f}"
        )
    totals = [lend[t]["n_lenders_initial"] for t in lend]
    results["exponent_lenders"] = exponent(totals, [lend[t]["model_s"] for t in lend])
    print(f"fitted exponent of model time on lenders: {results['exponent_lenders']:.2f}")

    print()
    print("Per-agent Mesa reference (each borrower a mesa.Agent, shuffle_do('step')):")
    print(
        f"{'borrowers':>10} {'model s':>9} {'borrower-months/s':>18} "
        f"{'vectorised x':>13} {'peak RSS MB':>12}"
    )
    for n, r in results["per_agent"].items():
        ratio = b[n]["borrower_months_per_s"] / r["borrower_months_per_s"] if n in b else None
        r["vectorised_speedup"] = ratio
        shown = f"{ratio:>13.1f}" if ratio else f"{'-':>13}"
        print(
            f"{n:>10,} {r['model_s']:>9.2f} {r['borrower_months_per_s']:>18,.0f} "
            f"{shown} {r['peak_rss_mb']:>12.0f}"
        )

    checks = {}
    if 1_000_000 in b:
        checks["1M borrowers: wall <= 60 s"] = b[1_000_000]["total_s"] <= TARGETS["wall_1m_s"]
        checks["1M borrowers: peak <= 4 GB"] = (
            b[1_000_000]["peak_rss_mb"] <= TARGETS["peak_1m_gb"] * 1024
        )
    if 100_000 in results["per_agent"]:
        checks[">= 50x per-agent Mesa at 100k"] = (
            results["per_agent"][100_000]["vectorised_speedup"] >= TARGETS["speedup_vs_mesa_100k"]
        )
    checks["time ~ borrowers^k, k <= 1.1"] = (
        results["exponent_borrowers"] <= TARGETS["exponent_borrowers"]
    )
    checks["time ~ lenders^k, k <= 1.1"] = (
        results["exponent_lenders"] <= TARGETS["exponent_lenders"]
    )
    results["targets"] = {k: bool(v) for k, v in checks.items()}
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
