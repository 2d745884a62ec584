"""The report's ``index.html``: one self-contained page (inline style, the PNG as a ``data:``
URI, no script, nothing fetched), every value HTML-escaped."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from lambda_handlers.cli.report_page import (
    CURVE_PNG,
    MAX_RECORD_ROWS,
    data_uri,
    escape,
    evaluation_rows,
)
from lambda_handlers.evaluation.report import CSV_COLUMNS

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;
       background: #fff; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f0f3f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f8fa; padding: 1em; overflow-x: auto; font-size: .85em; }
.status { display: inline-block; padding: .1em .6em; border-radius: .3em; color: #fff;
          background: #666; }
.SUCCEEDED { background: #2a7d2e; } .FAILED, .TIMED_OUT, .ABORTED { background: #b3261e; }
.RUNNING { background: #1f5fbf; }
.note { color: #555; font-style: italic; }
.gain-pos { color: #2a7d2e; } .gain-neg { color: #b3261e; }
img { max-width: 100%; border: 1px solid #ddd; }
"""


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: frozenset[int] = frozenset()
) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    thead = f"<thead><tr>{head}</tr></thead>" if any(headers) else ""
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{escape(c)}</td>' if i in numeric else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table>{thead}<tbody>{body}</tbody></table>"


def _number(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "-"


def _header(read: dict[str, Any], snap: dict[str, Any]) -> str:
    described = read["described"]
    request = json.loads(described.get("input") or "{}")
    title = request.get("customModelName") or described.get("name") or "execution"
    from lambda_handlers.cli.runs import duration_text

    rows = [
        ("execution", snap["executionArn"]),
        ("started", snap["startDate"]),
        ("ended", snap["stopDate"] or "still running"),
        ("elapsed", duration_text(snap["elapsedSeconds"])),
        ("base model", request.get("baseModelIdentifier")),
        ("customization", request.get("customizationType")),
    ]
    if snap["error"]:
        rows.append(("error", snap["error"]))
    status = escape(snap["status"])
    return (
        f"<h1>Customization report: {escape(title)} "
        f'<span class="status {status}">{status}</span></h1>' + _table(("", ""), rows)
    )


def _request(read: dict[str, Any]) -> str:
    text = read["described"].get("input") or "{}"
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return f"<h2>Request</h2><pre>{escape(text)}</pre>"


def _data(read: dict[str, Any], files: dict[str, bytes]) -> str:
    dataset = (read["where"]["document"] or {}).get("dataset") or {}
    parts = ["<h2>Training data</h2>"]
    report = json.loads(files["data-validation.json"]) if "data-validation.json" in files else {}
    summary = report.get("summary") if isinstance(report, dict) else None
    if not dataset and not summary:
        return parts[0] + (
            '<p class="note">No data report: the request was rejected before its data was read.</p>'
        )
    if summary:
        parts.append(f"<p>{escape(summary)}</p>")
    rows = [(role, count) for role, count in (dataset.get("records") or {}).items()]
    if dataset.get("trainingTokensPerEpoch") is not None:
        rows.append(("tokens per epoch (estimate)", dataset["trainingTokensPerEpoch"]))
    estimate = dataset.get("costEstimate") or {}
    if estimate.get("estimated") and estimate.get("training_usd") is not None:
        rows.append(("training cost (estimate, USD)", _number(estimate["training_usd"], 2)))
    if rows:
        parts.append(_table(("records", "count"), rows, frozenset({1})))
    warnings = dataset.get("warnings") or {}
    counted = warnings.items() if isinstance(warnings, dict) else ((w, 1) for w in warnings)
    for code, count in counted:  # Validate gives {code: how many records}
        parts.append(f'<p class="note">warning: {escape(code)} x {escape(count)}</p>')
    return "".join(parts)


def _curve_rows(summary: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for role in ("training", "validation"):
        curve = summary.get(role)
        if not curve or not curve["points"]:
            continue
        for which in ("first", "best", "last"):
            point = curve[which]
            rows.append((role, which, point["step"], point["epoch"], _number(point["loss"])))
    return rows


def _curves(files: dict[str, bytes], summary: dict[str, Any], notes: list[str]) -> str:
    parts = ["<h2>Loss curves</h2>"]
    if CURVE_PNG in files:
        parts.append(
            f'<img src="{data_uri(files[CURVE_PNG])}" alt="training and validation loss by step">'
        )
    rows = _curve_rows(summary)
    if rows:
        parts.append(
            _table(("curve", "point", "step", "epoch", "loss"), rows, frozenset({2, 3, 4}))
        )
    rising = summary.get("validationRising")
    if rising:
        parts.append(f"<p>The validation loss rose in each of the last {rising} evaluations.</p>")
    parts.extend(f'<p class="note">{escape(note)}</p>' for note in notes)
    return "".join(parts)


def _sweep(sweep: dict[str, Any], files: dict[str, bytes]) -> str:
    """Every run of a sweep, why the winner won, and all runs' curves on one plot."""
    from lambda_handlers.cli.report_sweep import SWEEP_PNG, run_label
    from lambda_handlers.evaluation.sweep_choice import MEASURE_WORDS

    measure = sweep.get("measure")
    parts = ["<h2>Sweep</h2>"]
    if sweep.get("why"):
        parts.append(f"<p><strong>{escape(sweep['why'])}</strong></p>")
    else:
        parts.append('<p class="note">No run won: the sweep has not chosen a winner.</p>')
    rows = []
    for run in sweep["runs"]:
        settings = run.get("hyperParameters") or {}
        value = run.get("value")
        rows.append(
            (
                int(run["index"]) + 1,
                run.get("jobName"),
                ", ".join(f"{k}={v}" for k, v in sorted(settings.items())),
                run.get("outcome"),
                f"{value:.6g}" if isinstance(value, int | float) else "-",
                "winner" if run.get("won") else "",
            )
        )
    column = MEASURE_WORDS.get(str(measure), str(measure or "measure"))
    headers = ("run", "job name", "settings", "outcome", column, "won")
    parts.append(_table(headers, rows, frozenset({0, 4})))
    for run in sweep["runs"]:
        if run.get("cause"):
            parts.append(f'<p class="note">{escape(run_label(run))}: {escape(run["cause"])}</p>')
    if SWEEP_PNG in files:
        parts.append(
            f'<img src="{data_uri(files[SWEEP_PNG])}" '
            'alt="training and validation loss of every run by step">'
        )
    parts.extend(f'<p class="note">{escape(note)}</p>' for note in sweep.get("notes") or [])
    winner = next((run for run in sweep["runs"] if run.get("won")), None)
    if winner is not None:
        parts.append(f"<p>The loss curves below are the winner's, {escape(run_label(winner))}.</p>")
    return "".join(parts)


def _gain(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:+.4f}"


def _evaluation(files: dict[str, bytes]) -> str:
    parts = ["<h2>Evaluation against the base model</h2>"]
    if "evaluation.json" not in files:
        return parts[0] + (
            '<p class="note">No evaluation: the request asked for none, or the execution '
            "ended before it.</p>"
        )
    document = json.loads(files["evaluation.json"])
    results = document.get("results") or {}
    gate = document.get("gate")
    if gate:
        verdict = "passed" if gate.get("passed") else "FAILED"
        parts.append(f"<p>Quality gate {verdict}: {escape(gate.get('message'))}</p>")
    metrics = results.get("metrics") or {}
    rows = [
        (name, _number(m.get("base")), _number(m.get("custom")), _gain(m.get("gain")))
        for name, m in metrics.items()
    ]
    parts.append(
        f"<p>{escape(results.get('records'))} test records, both models on the same references.</p>"
    )
    parts.append(
        _table(("score", "base model", "custom model", "gain"), rows, frozenset({1, 2, 3}))
    )
    records = evaluation_rows(files)
    columns = CSV_COLUMNS  # the evaluation CSV's own header, in its order
    shown = records[:MAX_RECORD_ROWS]
    parts.append("<h3>Per record</h3>")
    parts.append(
        _table(columns, ([r.get(c, "") for c in columns] for r in shown), frozenset({5, 6}))
    )
    if len(records) > len(shown):
        parts.append(
            f'<p class="note">The first {len(shown)} of {len(records)} records; '
            "all of them are in evaluation.csv.</p>"
        )
    return "".join(parts)


def _running(snap: dict[str, Any]) -> str:
    from lambda_handlers.cli.run_costs import total_text

    parts = ["<h2>What still exists, and its cost by the hour</h2>"]
    costs = snap.get("costs")
    if not costs:
        return parts[0] + "<p>Nothing: the request was rejected before anything was created.</p>"
    rows = [
        (
            item["what"],
            item["arn"],
            "unknown" if item["usdPerHour"] is None else f"${item['usdPerHour']:.4f}",
            item["how"],
        )
        for item in costs["items"]
    ]
    if rows:
        parts.append(
            _table(("resource", "ARN", "USD per hour", "how it bills"), rows, frozenset({2}))
        )
    parts.append(f"<p><strong>Now: {escape(total_text(costs))}.</strong></p>")
    return "".join(parts)


def page(
    read: dict[str, Any],
    snap: dict[str, Any],
    files: dict[str, bytes],
    summary: dict[str, Any],
    notes: list[str],
    sweep: dict[str, Any] | None = None,
) -> str:
    """The whole page; a sweep (``report_sweep.collect``) adds its section before the curves."""
    listed = ", ".join(sorted({*files, "index.html"}))
    generated = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
    body = "".join(
        [
            _header(read, snap),
            _running(snap),
            _sweep(sweep, files) if sweep else "",
            _curves(files, summary, notes),
            _evaluation(files),
            _data(read, files),
            _request(read),
            f'<p class="note">Generated by bedrock-customize report at {generated}. '
            f"Files in this folder: {escape(listed)}.</p>",
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Customization report</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )
