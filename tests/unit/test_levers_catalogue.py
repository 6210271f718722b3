"""lendsim-levers: every schema key listed with unit and source; help and reference in sync."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from scenarios import levers
from sim.output.sections import markers, section, with_section
from sim.validation import compose_dictconfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def every_key() -> list[levers.Lever]:
    """The whole catalogue (``--all``)."""
    return levers.catalogue(everything=True)


def _config_leaves(node, key: str = "") -> list[str]:
    """Every leaf of the composed config: a yearly path and a list count as one leaf."""
    if isinstance(node, dict) and node and not all(isinstance(k, int) for k in node):
        return [leaf for k, v in node.items() for leaf in _config_leaves(v, f"{key}.{k}" if key
                                                                          else str(k))]
    return [key]


def test_every_schema_field_appears_with_a_source(every_key):
    """Each leaf of the composed configuration (the schema's fields, per type and segment) is
    listed once, and each has a source comment in the conf/ file that sets it.
    """
    composed = OmegaConf.to_container(compose_dictconfig())
    expected = set(_config_leaves(composed)) - {"scenario_name"}
    listed = [lever.key for lever in every_key]
    assert len(listed) == len(set(listed))
    assert set(listed) == expected, sorted(set(listed) ^ expected)
    missing = [lever.key for lever in every_key if not lever.source]
    assert not missing, (
        "no source comment on the line of these keys in conf/ "
        f"(add '# report: ...', '# calibration assumption: ...' or the regulation): {missing}"
    )


def test_every_lever_has_a_unit(every_key):
    """Every regulation lever has a unit other than the catch-all "number"."""
    vague = [lv.key for lv in every_key if lv.key.startswith("regulation.") and lv.unit == "number"]
    assert not vague, f"write the unit in brackets at the end of the schema comment: {vague}"


def test_allowed_values_are_the_validation_rules(every_key):
    """The rate cap's allowed values are the rule in sim/validation.py, (0, 1]; a flag's are
    true or false; the borrower count's an integer range.
    """
    by_key = {lv.key: lv for lv in every_key}
    assert by_key["regulation.rate_cap_apr"].allowed == "(0, 1]"
    assert by_key["regulation.acquisitions_allowed"].allowed == "true or false"
    assert by_key["market.n_borrowers"].allowed == "integer [1, 100000000]"
    assert by_key["regulation.online_entry_capital_cny"].unit == "CNY"


def test_calibrated_values_carry_the_calibration_source(every_key):
    """behaviour.markup_speed is set last by conf/calibration/baseline.yaml: its default and its
    source come from there, not from the group default.
    """
    lever = {lv.key: lv for lv in every_key}["behaviour.markup_speed"]
    assert lever.source.startswith("calibration: fitted")
    value = OmegaConf.to_container(compose_dictconfig())["behaviour"]["markup_speed"]
    assert lever.default == f"{value:g}"


def test_yaml_comments_by_hand(tmp_path):
    """Nested keys get dotted names; a key without a comment takes its mapping's; a '#' inside
    quotes is not a comment; list items are not entered.
    """
    path = tmp_path / "x.yaml"
    path.write_text(
        "# header\n"
        "a: 1   # first\n"
        "b:     # per type\n"
        "  bank: 2\n"
        "  coop: 3  # own\n"
        "c: '#not'  # third\n"
        "d:\n"
        "  - date: x\n"
    )
    assert levers.yaml_comments(path, "top") == {
        "top.a": "first",
        "top.b": "per type",
        "top.b.bank": "per type",
        "top.b.coop": "own",
        "top.c": "third",
        "top.d": "",
    }


def test_sections_keep_each_others_text():
    """Rewriting one generator's section leaves the other's and the text around them alone;
    a new section is appended; a lone marker is refused.
    """
    text = with_section("intro\n", "one", "first body")
    text = with_section(text, "two", "second body")
    again = with_section(text, "one", "new body")
    assert again.startswith("intro\n")
    assert section(again, "one") == "new body\n" and section(again, "two") == "second body\n"
    begin, _ = markers("one")
    with pytest.raises(ValueError):
        with_section(begin + "\nbody\n", "one", "x")


def test_generated_files_are_in_sync(every_key):
    """docs/levers.md's reference section and conf/hydra/help/lendsim.yaml are what the tool
    writes now (regenerate with the commands in their headers), and the effects table is kept.
    """
    doc = (ROOT / "docs" / "levers.md").read_text()
    assert section(doc, levers.SECTION) == levers.markdown(every_key), (
        "regenerate: python -m scenarios.levers --all --format md --write docs/levers.md"
    )
    assert section(doc, "lever-effects") is not None
    help_file = (ROOT / "conf" / "hydra" / "help" / "lendsim.yaml").read_text()
    assert help_file == levers.help_yaml(), (
        "regenerate: python -m scenarios.levers --write-help conf/hydra/help/lendsim.yaml"
    )


def test_help_shows_the_custom_text():
    """``python -m sim --help`` shows what the app does, the scenarios, the ten levers with
    units and the pointer to lendsim-levers, and neither the config dump nor internal groups.
    """
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "--help"], cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("lendsim: agent-based simulator")
    assert "tightening" in out and "rate_cap_x_entry_capital" in out and "joblib" in out
    assert "regulation.rate_cap_apr" in out and "APR, default" in out
    assert sum(key in out for key in levers.MOST_USED) == len(levers.MOST_USED) == 10
    assert "lendsim-levers" in out
    assert "== Config ==" not in out and "calibration:" not in out
    assert "tech_subsidy_path" not in out


def test_the_command_lists_levers_and_everything():
    """``lendsim-levers`` prints the regulation levers only; ``--all`` adds the market, lender
    and behaviour parameters; the console script names this module's main.
    """
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "scenarios.levers", *args], cwd=ROOT, capture_output=True,
            text=True, timeout=120, check=True,
        ).stdout

    short, full = run(), run("--all")
    assert "regulation.rate_cap_apr" in short and "behaviour." not in short
    assert "behaviour.rate_sensitivity" in full and "lenders.bank.count" in full
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["lendsim-levers"] == "scenarios.levers:main"
