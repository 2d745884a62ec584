"""``report`` for a sweep: every run's metrics files, all runs' curves on one plot.

A sweep execution's output lists its runs at ``$.sweep.runs`` (``evaluation.sweep_choice``:
index, job name, settings, outcome, measure value, whether it won, the job's ARN when it has
one) with ``$.sweep.why``. Before the winner is chosen (a sweep still training, or one whose
every run failed) the runs are read from ``$.plan.sweep.runs`` and the Map's results at
``$.runs``, and no run is marked as the winner.

Each run with a job ARN has its metrics files under the job's output location
(``curves.training_objects``); they are kept in the report folder as ``run-<n>-<Bedrock's
name>``. A run without a job ARN (its job failed before Bedrock gave one back, or was never
submitted) or without files is named in the page's notes, not drawn.
"""

from __future__ import annotations

import io
from typing import Any

from lambda_handlers.cli.report_page import METRICS_FILES, _get, read_curves
from lambda_handlers.common.plan import Plan
from lambda_handlers.evaluation import curves

SWEEP_PNG = "sweep-loss-curves.png"
# One colour per run, by its index (matplotlib's tab10, the colours people know from it).
RUN_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_OUTCOME_OF_ERROR = {"CustomizationJobFailed": "Failed", "CustomizationJobStopped": "Stopped"}


def _pending_runs(plan: Plan, results: Any) -> list[dict[str, Any]]:
    """The runs as the plan names them, with what the Map gave for each so far."""
    assert plan.sweep is not None
    given = results if isinstance(results, list) else []
    entries = []
    for i, run in enumerate(plan.sweep.runs):
        result = given[i] if i < len(given) and isinstance(given[i], dict) else {}
        job: dict[str, Any] = result["job"] if isinstance(result.get("job"), dict) else {}
        error: dict[str, Any] = result["error"] if isinstance(result.get("error"), dict) else {}
        if error:
            name = str(error.get("Error") or "States.Unknown")
            outcome = _OUTCOME_OF_ERROR.get(name, name)
        else:
            outcome = str(job.get("status") or "no result yet")
        entry: dict[str, Any] = {
            "index": i,
            "jobName": run.jobName,
            "hyperParameters": run.hyperParameters,
            "outcome": outcome,
            "measure": plan.sweep.measure,
            "value": None,
            "won": False,
        }
        if job.get("jobArn"):
            entry["jobArn"] = job["jobArn"]
        entries.append(entry)
    return entries


def sweep_of(read: dict[str, Any]) -> dict[str, Any] | None:
    """``{"runs": [listing per run], "why": str | None, "measure": str}``; ``None`` for an
    execution without a sweep."""
    document = read["where"]["document"] or {}
    plan: Plan | None = read["plan"]
    chosen = document.get("sweep")
    if isinstance(chosen, dict) and isinstance(chosen.get("runs"), list):
        runs = [r for r in chosen["runs"] if isinstance(r, dict)]
        measure = next((r.get("measure") for r in runs if r.get("measure")), None)
        return {"runs": runs, "why": chosen.get("why"), "measure": measure}
    if plan is None or plan.sweep is None:
        return None
    return {
        "runs": _pending_runs(plan, document.get("runs")),
        "why": None,
        "measure": plan.sweep.measure,
    }


def run_label(entry: dict[str, Any]) -> str:
    """``run 3 (job name)``: numbered from 1, as the sweep's own ``why`` sentence names runs."""
    return f"run {int(entry['index']) + 1} ({entry.get('jobName')})"


def _output_uri(read: dict[str, Any], index: int) -> str | None:
    """The run's output location: its iteration's plan, else the execution's plan."""
    results = (read["where"]["document"] or {}).get("runs")
    if isinstance(results, list) and index < len(results) and isinstance(results[index], dict):
        merged = results[index].get("plan") or {}
        uri = (merged.get("outputDataConfig") or {}).get("s3Uri")
        if isinstance(uri, str):
            return uri
    plan: Plan | None = read["plan"]
    return plan.outputDataConfig.get("s3Uri") if plan else None


def download_runs(
    read: dict[str, Any], sweep: dict[str, Any], s3: Any
) -> tuple[dict[str, bytes], list[dict[str, Any]], list[str]]:
    """Every run's metrics files (by their name in the report folder), the curves of the runs
    that have any (``{"entry", "training", "validation"}``), and a note per run left out."""
    files: dict[str, bytes] = {}
    drawn: list[dict[str, Any]] = []
    notes: list[str] = []
    for entry in sweep["runs"]:
        label = run_label(entry)
        job_arn, uri = entry.get("jobArn"), _output_uri(read, int(entry["index"]))
        if not job_arn or not uri:
            notes.append(
                f"{label}: no curve: the run ended {entry.get('outcome')} without a job to "
                "read metrics from"
            )
            continue
        mine: dict[str, bytes] = {}
        for role, (bucket, key) in curves.training_objects(uri, str(job_arn)).items():
            body = _get(s3, bucket, key)
            if body is not None:
                mine[METRICS_FILES[role]] = body
        if not mine:
            notes.append(f"{label}: no curve: its job wrote no metrics files")
            continue
        found, problems = read_curves(mine)
        notes.extend(f"{label}: {p}" for p in problems if not p.startswith("no "))
        files.update({f"run-{int(entry['index']) + 1}-{name}": b for name, b in mine.items()})
        if any(found.values()):
            drawn.append({"entry": entry, **found})
    return files, drawn, notes


def setting_texts(runs: list[dict[str, Any]]) -> dict[int, str]:
    """Each run's settings as ``name=value, ...``: only those that differ between runs (all
    of them when none differ), so a legend stays readable."""
    sets = [dict(r.get("hyperParameters") or {}) for r in runs]
    names = sorted({name for s in sets for name in s})
    varying = [n for n in names if len({str(s.get(n)) for s in sets}) > 1] or names
    return {
        int(r["index"]): ", ".join(f"{n}={s[n]}" for n in varying if n in s)
        for r, s in zip(runs, sets, strict=True)
    }


def draw_sweep(drawn: list[dict[str, Any]], settings: dict[int, str]) -> bytes | None:
    """All runs' training (solid) and validation (dashed) loss on one plot, one colour per
    run, the winner thicker and labelled; PNG bytes, ``None`` with no run to draw."""
    if not drawn:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    figure = Figure(figsize=(10, 5.6), dpi=100)
    axes = figure.add_subplot()
    handles: list[Any] = []
    for run in drawn:
        entry = run["entry"]
        index = int(entry["index"])
        colour = RUN_COLOURS[index % len(RUN_COLOURS)]
        width = 3.2 if entry.get("won") else 1.3
        label = f"run {index + 1}: {settings.get(index, '')}" + (
            " (winner)" if entry.get("won") else ""
        )
        for role, style in (("training", "-"), ("validation", "--")):
            points = run.get(role)
            if points:
                axes.plot(
                    [p.step for p in points],
                    [p.loss for p in points],
                    color=colour,
                    linestyle=style,
                    linewidth=width,
                    marker="o" if role == "validation" else None,
                    markersize=3 + width,
                )
        handles.append(Line2D([], [], color=colour, linewidth=width, label=label))
    handles.append(Line2D([], [], color="#444444", linestyle="-", label="training loss"))
    handles.append(Line2D([], [], color="#444444", linestyle="--", label="validation loss"))
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title("Training and validation loss of every run")
    axes.grid(True, alpha=0.3)
    axes.legend(handles=handles, fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def collect(read: dict[str, Any], s3: Any) -> tuple[dict[str, Any] | None, dict[str, bytes]]:
    """The sweep for the page (its runs, why, settings, notes) and the files it adds; ``(None,
    {})`` for an execution without a sweep."""
    sweep = sweep_of(read)
    if sweep is None:
        return None, {}
    files, drawn, notes = download_runs(read, sweep, s3)
    sweep["settings"] = setting_texts(sweep["runs"])
    sweep["notes"] = notes
    png = draw_sweep(drawn, sweep["settings"])
    if png is not None:
        files[SWEEP_PNG] = png
    return sweep, files
