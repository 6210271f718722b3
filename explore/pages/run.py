"""The Run page: choose a scenario, move levers, run in the background, read the results.

The controls hold text as typed; Run turns them into command-line overrides
(:mod:`explore.form`), checks them with the project's validator and, only if
nothing is refused, starts the batch (the policy, and the baseline on the same
seeds if asked) in a background thread (:func:`solara.lab.task`), with a
progress bar by simulated month and a Cancel button. A refused value shows the
validator's message beside its control and nothing runs.
"""

from __future__ import annotations

import dataclasses
import shlex

import solara
import solara.lab

from explore import controls, form, runner
from explore.figures import draw_all
from explore.pages.widgets import TABLE_CSS, FigureCard, html_table
from explore.paths import out_root, slug
from explore.results import Results, headline_rows, load, policy_label, tables_zip

MAX_SEEDS = 20

scenario = solara.reactive("baseline")
values: solara.Reactive[dict[str, str]] = solara.reactive({})
timeline: solara.Reactive[list[form.Change]] = solara.reactive([])
n_seeds = solara.reactive(2)
first_seed = solara.reactive(0)
n_borrowers = solara.reactive("")
compare = solara.reactive(True)
problems: solara.Reactive[list[str]] = solara.reactive([])
loaded = solara.reactive("")  # the scenario whose timeline the editor holds
command = solara.reactive("")


def current_form() -> form.Form:
    """The form as the controls hold it."""
    seeds = tuple(range(first_seed.value, first_seed.value + n_seeds.value))
    return form.Form(
        scenario.value,
        dict(values.value),
        list(timeline.value),
        seeds,
        n_borrowers.value,
        compare.value,
    )


def choose_scenario(name: str) -> None:
    """Switch scenario: the levers and the timeline start from its values."""
    scenario.set(name)
    values.set({})
    timeline.set(form.scenario_timeline(name))
    loaded.set(name)
    problems.set([])


def plan(f: form.Form) -> tuple[list[runner.RunSpec], list[str]]:
    """The batch of a form (policy and baseline per seed), or the validator's messages."""
    points = [("policy", form.overrides(f))]
    if f.compare:
        points.append((runner.BASELINE, form.baseline_overrides(f)))
    specs, refused = [], []
    for seed in f.seeds:
        for point, texts in points:
            config, lines = form.check([*texts, f"seed={seed}"])
            refused += [line for line in lines if line not in refused]
            if config is not None:
                specs.append(runner.RunSpec(point, seed, (*texts, f"seed={seed}"), config))
        if refused:
            break  # the same problem for every seed
    return specs, refused


@solara.lab.task
def run_batch(specs: list[runner.RunSpec], label: str) -> tuple[Results, list]:
    """Run the batch in the background; then read it back and draw its figures."""
    shown = {"percent": -1}

    def progress(done: int, total: int) -> None:
        percent = int(100 * done / max(total, 1))
        if percent != shown["percent"]:
            shown["percent"] = percent
            run_batch.progress = percent

    done = runner.execute(specs, out_root(), progress, keep_going=run_batch.is_current)
    results = load(done, label)
    figures = draw_all(results, out_root() / "views" / results.key)
    return results, figures


def start() -> None:
    """Run's button: check everything first; start only if nothing is refused."""
    f = current_form()
    specs, refused = plan(f)
    problems.set(refused)
    if refused:
        return
    texts = form.overrides(f)
    command.set(" ".join(["lendsim", *map(shlex.quote, texts), f"seed={f.seeds[0]}"]))
    run_batch(specs, policy_label(texts, f.compare))


@solara.component
def Problems(key: str) -> None:
    """The validator's messages about ``key``, beside its control."""
    mine = form.problems_by_key(problems.value, _control_keys()).get(key, [])
    for line in mine:
        solara.Error(line, dense=True, classes=["problem", f"problem-{slug(key)}"])


@solara.component
def LeverControl(control: controls.Control) -> None:
    """One lever: its input, unit, default, allowed values and source, and any problem."""
    lever = control.lever
    text = values.value.get(control.key, control.text)

    def set_text(new: str) -> None:
        values.set({**values.value, control.key: new})

    label = f"{lever.key.removeprefix('regulation.')} [{lever.unit}]"
    if control.kind == "bool":
        solara.Select(
            label,
            values=["true", "false"],
            value=text,
            on_value=set_text,
            classes=[f"lever-{slug(control.key)}"],
        )
    else:
        solara.InputText(
            label,
            value=text,
            on_value=set_text,
            continuous_update=True,
            classes=[f"lever-{slug(control.key)}"],
        )
    note = f"default {lever.default}; allowed {lever.allowed}"
    solara.Text(
        note + (f"; source: {lever.source}" if lever.source else ""), classes=["lever-note"]
    )
    Problems(control.key)


def _typed(label: str, text: str, on_value) -> None:
    """A text field sent on every keystroke (so Run sees what is typed)."""
    solara.InputText(
        label, value=text, continuous_update=True, on_value=on_value, classes=[f"timeline-{label}"]
    )


@solara.component
def TimelineEditor() -> None:
    """The dated changes: month, lever, value; add and remove rows."""
    rows = timeline.value
    levers = controls.timeline_levers(scenario.value)
    by_row = form.timeline_problems(problems.value, rows)

    def replace(i: int, **change: str) -> None:
        new = list(rows)
        new[i] = dataclasses.replace(new[i], **change)
        timeline.set(new)

    with solara.Card("Timeline: dated changes", classes=["timeline-editor"]):
        solara.Text(
            "A lever changes from a month on (YYYY-MM); a yearly path given a number "
            "holds it from then.",
            classes=["lever-note"],
        )
        for i, row in enumerate(rows):
            with solara.Row(classes=[f"timeline-row-{i}"]):
                _typed("month", row.date, lambda v, i=i: replace(i, date=v))
                solara.Select(
                    "lever",
                    values=levers,
                    value=row.lever,
                    on_value=lambda v, i=i: replace(i, lever=v),
                )
                _typed("value", row.value, lambda v, i=i: replace(i, value=v))
                solara.Button(
                    "remove", text=True, on_click=lambda i=i: timeline.set(rows[:i] + rows[i + 1 :])
                )
            for line in by_row.get(i, []):
                solara.Error(line, dense=True, classes=["problem", "problem-regulation-timeline"])
        solara.Button(
            "Add dated change",
            classes=["timeline-add"],
            on_click=lambda: timeline.set([*rows, form.Change("2027-01", levers[0], "")]),
        )


@solara.component
def Setup() -> None:
    """Scenario, seeds, borrowers, baseline, Run and Cancel, progress."""
    names = [s.name for s in controls.scenarios()]
    described = {s.name: s.description for s in controls.scenarios()}
    scale = controls.scale()
    with solara.Card("Run", classes=["run-setup"]):
        solara.Select(
            "scenario",
            values=names,
            value=scenario.value,
            on_value=choose_scenario,
            classes=["scenario-select"],
        )
        solara.Markdown(described[scenario.value])
        solara.SliderInt(f"seeds (1-{MAX_SEEDS})", value=n_seeds, min=1, max=MAX_SEEDS)
        solara.InputInt("first seed", value=first_seed)
        solara.InputText(
            f"borrowers (default {scale.default:,})",
            value=n_borrowers,
            continuous_update=True,
            classes=["lever-market-n_borrowers"],
        )
        solara.Text(scale.note(), classes=["lever-note"])
        Problems(controls.N_BORROWERS)
        solara.Checkbox(label="compare with the baseline (same seeds)", value=compare)
        with solara.Row():
            solara.Button(
                "Run",
                on_click=start,
                color="primary",
                disabled=run_batch.pending,
                classes=["run-button"],
            )
            solara.Button(
                "Cancel",
                on_click=run_batch.cancel,
                disabled=not run_batch.pending,
                classes=["cancel-button"],
            )
        if run_batch.pending:
            percent = run_batch.progress or 0
            solara.ProgressLinear(value=percent, classes=["run-progress"])
            solara.Text(f"{percent:.0f} % of the simulated months", classes=["run-status"])
        elif run_batch.cancelled:
            solara.Warning("Cancelled: the run stopped between two months.", classes=["run-status"])
        elif run_batch.error:
            solara.Error(f"The run stopped: {run_batch.exception}", classes=["run-status"])
        for line in form.problems_by_key(problems.value, _control_keys()).get(form.GENERAL, []):
            solara.Error(line, classes=["problem", "problem-general"])


def _control_keys() -> list[str]:
    """Every key a control shows problems for (levers, borrowers, the timeline)."""
    levers = [c.key for g in controls.groups(scenario.value) for c in g.controls]
    return [*levers, controls.N_BORROWERS, controls.TIMELINE]


@solara.component
def Levers() -> None:
    """Every regulation lever, grouped as the README's lever table groups them."""
    for group in controls.groups(scenario.value):
        with solara.Details(
            summary=f"{group.title}: {group.meaning}",
            expand=any(c.key == "regulation.rate_cap_apr" for c in group.controls),
        ):
            for control in group.controls:
                LeverControl(control)


@solara.component
def ResultsView(results: Results, figures: list) -> None:
    """The results table, the figures and the downloads of the last batch."""
    with solara.Card("Results", classes=["results"]):
        solara.Text(
            f"{', '.join(results.order)}: seeds "
            f"{', '.join(str(s) for s in sorted({d.spec.seed for d in results.runs}))}; "
            "mean [5-95 % band] across seeds; difference paired by seed "
            "[95 % t-interval]",
            classes=["results-note"],
        )
        solara.HTML(
            unsafe_innerHTML=html_table(headline_rows(results), "explore-table results-table")
        )
        if command.value:
            solara.Text(
                f"The policy from the command line: {command.value}", classes=["results-command"]
            )
        solara.FileDownload(
            lambda: tables_zip(results),
            filename=f"tables_{results.key}.zip",
            label="Download the tables (CSV and Parquet, zip)",
            mime_type="application/zip",
        )
    for figure in figures:
        FigureCard(figure.title, figure.png, figure.name)


@solara.component
def Page() -> None:
    """The Run page."""
    solara.Style(TABLE_CSS)
    solara.Title("lendsim explorer: run")
    if loaded.value != scenario.value:
        choose_scenario(scenario.value)
    with solara.Columns([1, 2]):
        with solara.Column():
            Setup()
            TimelineEditor()
            Levers()
        with solara.Column():
            if run_batch.finished and run_batch.value is not None:
                ResultsView(*run_batch.value)
            elif run_batch.latest is not None:
                ResultsView(*run_batch.latest)
            else:
                solara.Info("Choose a scenario, move a lever and press Run.")
