"""Bad input is refused before any work, with a message naming the offending key.

Most cases compose the config in-process exactly as ``python -m sim`` does
(Hydra compose + :func:`sim.validation.load_config`): errors Hydra raises at
composition (wrong types, keys not in the schema, unknown config groups) and
errors the validator raises (ranges, sums, orderings, cross-field rules). A
few run the real command line and check the exit code, the message and that
no table or ``result.json`` is written.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from sim.validation import ConfigError, compose_dictconfig, load_config

ROOT = Path(__file__).resolve().parents[2]
ALL_ZERO = tuple(
    f"lenders.{t}.{field}=0"
    for t in ("bank", "credit_cooperative", "online_platform", "policy_lender")
    for field in ("count", "initial_share")
)
NO_INITIAL_BOOK = tuple(
    f"market.segments.{s}.initial_loan_share=0"
    for s in ("consumer", "sme", "agriculture", "welfare")
)


def error_lines(*overrides: str) -> list[str]:
    """The lines a user sees for ``python -m sim OVERRIDES``; empty if the config is valid.

    A Hydra composition error shows its message and its cause (as Hydra prints
    them); a validation error shows one line per problem.
    """
    try:
        cfg = compose_dictconfig(*overrides)
    except Exception as exc:
        lines: list[str] = []
        cause: BaseException | None = exc
        while cause is not None:
            lines += str(cause).splitlines()
            cause = cause.__cause__
        return lines
    try:
        load_config(cfg)
    except ConfigError as exc:
        return exc.problems
    return []


# (overrides, key the message must name, a word of what is allowed or wrong)
BAD = [
    # wrong types: refused by Hydra/OmegaConf at composition, naming the key
    (("regulation.rate_cap_apr=abc",), "regulation.rate_cap_apr", "Float"),
    (("market.n_borrowers=1.5",), "market.n_borrowers", "Integer"),
    (("lenders.bank.count=abc",), "lenders.bank.count", "Integer"),
    (("regulation.local_only_lending=maybe",), "regulation.local_only_lending", "bool"),
    (("progress=maybe",), "progress", "bool"),
    (("regulation.financing_support.abc=0.3",), "regulation.financing_support.abc", "int"),
    (("regulation.timeline=5",), "regulation.timeline", "list"),
    (("regulation.timeline=[5]",), "regulation.timeline", "Dict"),
    # unknown keys and names
    (("market.nonsense=1",), "market.nonsense", "not in"),
    (("+market.nonsense=1",), "market.nonsense", "unknown key"),
    (("+foo=1",), "foo", "unknown key"),
    (("+market.segments.consumer.colour=1",), "market.segments.consumer.colour", "unknown key"),
    (("market.segments.retail.share=0.1",), "market.segments.retail", "not in struct"),
    (
        ("+regulation.min_capital_ratio.fintech=0.1",),
        "regulation.min_capital_ratio.fintech",
        "unknown key",
    ),
    (("scenario=nope",), "scenario", "Available options"),
    (("market=nope",), "market", "Available options"),
    # out of range
    (("regulation.rate_cap_apr=-1",), "regulation.rate_cap_apr", "(0, 1]"),
    (("regulation.rate_cap_apr=nan",), "regulation.rate_cap_apr", "(0, 1]"),
    (("regulation.rate_cap_apr=inf",), "regulation.rate_cap_apr", "out of range"),
    (("market.n_borrowers=0",), "market.n_borrowers", "[1, 100000000]"),
    (("market.n_regions=0",), "market.n_regions", "[1, 1000]"),
    (("market.real_borrowers=0",), "market.real_borrowers", "(0, 2e+09]"),
    (("lenders.bank.count=-1",), "lenders.bank.count", "[0, 100000]"),
    (("lenders.bank.risk_appetite=0",), "lenders.bank.risk_appetite", "(0, 1]"),
    (("lenders.bank.regions_served=40",), "lenders.bank.regions_served", "[1, 31]"),
    (("market.segments.consumer.pd_mean=1",), "market.segments.consumer.pd_mean", "(0, 1)"),
    (("market.segments.sme.term_months=0",), "market.segments.sme.term_months", "[1, 360]"),
    (("regulation.co_lending_min_own_share=1.5",), "regulation.co_lending_min_own_share", "[0, 1]"),
    (("regulation.min_capital_ratio.bank=-0.1",), "regulation.min_capital_ratio.bank", "[0, 1]"),
    (
        ("regulation.max_leverage.online_platform=0",),
        "regulation.max_leverage.online_platform",
        "(0, 1000]",
    ),
    (("regulation.online_entry_capital_cny=0",), "regulation.online_entry_capital_cny", "[5e+06"),
    (("behaviour.search_size=0",), "behaviour.search_size", "[1, 50]"),
    (("seed=-1",), "seed", "[0, 9223372036854775807]"),
    (("regulation.financing_support={2024: 1.5}",), "regulation.financing_support.2024", "[0, 1]"),
    (("scenario_name=a/b",), "scenario_name", "'/'"),
    # sums
    (("market.segments.consumer.share=0.8",), "market.segments.*.share", "sum to 1"),
    (("lenders.bank.initial_share=0.6",), "lenders.*.initial_share", "sum to 1"),
    (ALL_ZERO, "lenders.*.count", "at least one lender"),
    (("lenders.online_platform.count=0",), "lenders.online_platform.initial_share", "count is 0"),
    (
        ("lenders.online_platform.initial_share=0", "lenders.bank.initial_share=0.63"),
        "lenders.online_platform.initial_share",
        "above 0",
    ),
    (NO_INITIAL_BOOK, "market.segments.*.initial_loan_share", "above 0"),
    # calendar
    (("market.start=2024-13",), "market.start", "YYYY-MM"),
    (("market.start=2024-1",), "market.start", "YYYY-MM"),
    (("market.end=2023-12",), "market.end", "after market.start"),
    (("market.end=2024-01",), "market.end", "after market.start"),
    # dated changes and shocks
    (
        ("regulation.timeline=[{date: 2031-01, rate_cap_apr: 0.1}]",),
        "regulation.timeline[0].date",
        "outside the run",
    ),
    (
        ("regulation.timeline=[{date: 2023-12, rate_cap_apr: 0.1}]",),
        "regulation.timeline[0].date",
        "outside the run",
    ),
    (
        ("regulation.timeline=[{date: 2026-13, rate_cap_apr: 0.1}]",),
        "regulation.timeline[0].date",
        "YYYY-MM",
    ),
    (("regulation.timeline=[{rate_cap_apr: 0.1}]",), "regulation.timeline[0]", "'date'"),
    (("regulation.timeline=[{date: 2026-01}]",), "regulation.timeline[0]", "no lever"),
    (
        ("regulation.timeline=[{date: 2026-01, interest_cap: 0.1}]",),
        "regulation.timeline[0].interest_cap",
        "unknown regulation lever",
    ),
    (
        ("regulation.timeline=[{date: 2026-01, max_leverage: 3}]",),
        "regulation.timeline[0].max_leverage",
        "unknown regulation lever",
    ),
    (
        ("regulation.timeline=[{date: 2026-01, rate_cap_apr: abc}]",),
        "regulation.timeline[0].rate_cap_apr",
        "(0, 1]",
    ),
    (
        (
            "regulation.timeline=[{date: 2026-01, rate_cap_apr: 0.1},"
            " {date: 2027-01, co_lending_min_own_share: 2}]",
        ),
        "regulation.timeline[1].co_lending_min_own_share",
        "[0, 1]",
    ),
    (
        ("market.default_shocks=[{start: 2031-01, months: 2, multiplier: 3}]",),
        "market.default_shocks[0].start",
        "outside the run",
    ),
    (
        ("market.default_shocks=[{start: 2025-01, months: 0, multiplier: 3}]",),
        "market.default_shocks[0].months",
        "[1, 1200]",
    ),
    (
        (
            "market.default_shocks=[{start: 2025-01, months: 2, multiplier: 3,"
            " lender_type: fintech}]",
        ),
        "market.default_shocks[0].lender_type",
        "one of bank",
    ),
    (
        ("market.default_shocks=[{start: 2025-01, months: 2}]",),
        "market.default_shocks[0].multiplier",
        "missing",
    ),
    (
        ("market.default_shocks=[{start: 2025-01, months: 2, multiplier: 3, foo: 1}]",),
        "market.default_shocks",
        "foo",
    ),
    # orderings and cross-field rules
    (
        ("behaviour.markup_floor=0.1", "behaviour.markup_ceiling=0.05"),
        "behaviour.markup_ceiling",
        "behaviour.markup_floor",
    ),
    (
        ("regulation.cross_province_capital_cny=1e8",),
        "regulation.cross_province_capital_cny",
        "online_entry_capital_cny",
    ),
    (
        ("regulation.timeline=[{date: 2026-01, cross_province_capital_cny: 5e8}]",),
        "regulation.timeline[0]",
        "cross_province_capital_cny",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "key", "allowed"), BAD, ids=[" ".join(b[0])[:60] for b in BAD]
)
def test_bad_input_names_its_key(overrides, key, allowed):
    """Each bad configuration is refused, and one line of the error names the full key and says
    what is wrong or allowed.
    """
    lines = error_lines(*overrides)
    assert lines, f"{overrides} was accepted"
    text = "\n".join(lines)
    named = [line for line in lines if key in line]
    assert named, f"no line names {key}:\n{text}"
    assert allowed in text, f"{allowed!r} not said:\n{text}"


def test_enough_distinct_bad_inputs():
    """The table above holds at least 30 distinct bad configurations."""
    assert len({b[0] for b in BAD}) == len(BAD) >= 30


def test_every_problem_reported_at_once():
    """Five independent problems give five lines, one per key, in one error (not the first)."""
    overrides = (
        "regulation.rate_cap_apr=-1",
        "market.n_borrowers=0",
        "lenders.bank.size_sigma=9",
        "behaviour.exit_months=0",
        "regulation.timeline=[{date: 2040-01, rate_cap_apr: 0.2}]",
    )
    lines = error_lines(*overrides)
    keys = [
        "regulation.rate_cap_apr",
        "market.n_borrowers",
        "lenders.bank.size_sigma",
        "behaviour.exit_months",
        "regulation.timeline[0].date",
    ]
    assert len(lines) == 5, lines
    for key in keys:
        assert sum(line.startswith(f"{key} ") for line in lines) == 1, (key, lines)


def test_refusal_crosses_a_process_boundary_whole():
    """A refusal raised in a worker process reaches the parent with its list of problems.

    Pickling is how ``concurrent.futures`` sends a worker's exception back; the
    rebuilt error has the same two problems, not one per character.
    """
    problems = ["a.b = 1: out of range", "c.d = 2: out of range"]
    rebuilt = pickle.loads(pickle.dumps(ConfigError(problems)))
    assert isinstance(rebuilt, ConfigError)
    assert rebuilt.problems == problems and str(rebuilt) == "\n".join(problems)


def test_valid_configurations_pass():
    """The helper reports nothing for the default configuration and for every legal extreme used
    in tests/model/test_extremes.py's spirit: one lender, zero platforms, zero demand growth.
    """
    assert error_lines() == []
    assert error_lines("market.demand_growth=0") == []
    assert (
        error_lines(
            "lenders.bank.initial_share=0.63",
            "lenders.online_platform.count=0",
            "lenders.online_platform.initial_share=0",
        )
        == []
    )


def run_cli(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    """``python -m sim ARGS`` into a fresh directory under ``tmp_path``."""
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "sim", *args, f"hydra.run.dir={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "1"},
        timeout=300,
    )
    return proc, out


CLI_BAD = [
    ("lenders=5", "lenders = 5: a config group"),
    ("regulation.rate_cap_apr=abc", "regulation.rate_cap_apr"),
    ("market.nonsense=1", "market.nonsense"),
    ("+market.nonsense=1", "market.nonsense"),
    ("scenario=nope", "scenario"),
    ("regulation.timeline=[{date: 2031-01, rate_cap_apr: 0.1}]", "regulation.timeline[0].date"),
    ("market.end=2023-06", "market.end"),
]


@pytest.mark.parametrize(("override", "key"), CLI_BAD, ids=[c[0][:40] for c in CLI_BAD])
def test_cli_refuses_bad_input_and_writes_nothing(tmp_path, override, key):
    """The real command line exits non-zero, names the key on stderr, and writes no table, plot
    or result.json (at most Hydra's log and its copy of the config).
    """
    proc, out = run_cli(tmp_path, override, "market.n_borrowers=2000")
    assert proc.returncode != 0, proc.stderr
    assert key in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    written = {p.name for p in out.rglob("*") if p.is_file()} if out.exists() else set()
    assert not {n for n in written if n.endswith((".csv", ".png")) or n == "result.json"}, written


def test_cli_lists_all_problems_with_exit_code_2(tmp_path):
    """Validation errors exit with code 2 and print one 'config error:' line per problem."""
    proc, out = run_cli(tmp_path, "regulation.rate_cap_apr=-1", "market.n_regions=0")
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("config error: ")]
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("config error: market.n_regions = 0:")
    assert lines[1].startswith("config error: regulation.rate_cap_apr = -1.0:")
    assert not (out / "result.json").exists()
