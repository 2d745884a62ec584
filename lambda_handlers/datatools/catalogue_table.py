"""The model catalogue as rows and as a plain-text table for a terminal.

``models_table`` gives JSON-ready rows (the CLI's ``models --json``); ``format_table`` lays
them out in fixed-width columns with only the standard library, so the CLI works wherever
Python does. Cells with several values (approaches, regions, hyperparameters) take one line
per value, and the model's name sits under its id, which keeps the table narrow enough to
read.
"""

from __future__ import annotations

import textwrap
from typing import Any

from lambda_handlers.common.catalogue import models

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("model_id", "MODEL (id, name)"),
    ("approaches", "APPROACHES"),
    ("serving_modes", "SERVING"),
    ("regions", "REGIONS"),
    ("hyperparameters", "HYPERPARAMETERS (min to max, default)"),
)
_MAX_CELL_WIDTH = 56
_GAP = "  "


def models_table() -> list[dict[str, Any]]:
    """One row per catalogued model, in catalogue order.

    ``hyperparameters`` is a list of ``{name, type, min, max, default}``, or ``None`` when
    AWS has not published them for the model; ``hyperparameters_note`` then says so.
    """
    rows: list[dict[str, Any]] = []
    for model in models().values():
        rules = model.hyperparameters
        rows.append(
            {
                "model_id": model.model_id,
                "name": model.name,
                "legacy": model.legacy,
                "approaches": list(model.customization_types),
                "serving_modes": list(model.serving_modes),
                "regions": list(model.regions),
                "hyperparameters": None
                if rules is None
                else [
                    {
                        "name": rule.name,
                        "type": rule.kind,
                        "min": rule.minimum,
                        "max": rule.maximum,
                        "default": rule.default,
                        "description": rule.describe(),
                    }
                    for rule in rules.values()
                ],
                "hyperparameters_note": model.hyperparameters_note,
            }
        )
    return rows


def _cell_lines(row: dict[str, Any], key: str) -> list[str]:
    value = row.get(key)
    if key == "model_id":
        # The name goes under the id rather than in a column of its own: the table stays
        # narrow enough for a terminal.
        name = f"{row.get('name')} (legacy)" if row.get("legacy") else row.get("name")
        value = [value, name]
    if key == "hyperparameters":
        if value is None:
            value = [row.get("hyperparameters_note") or "not published"]
        else:
            value = [h.get("description") or h["name"] for h in value]
    items = value if isinstance(value, list) else [value]
    lines: list[str] = []
    for item in items:
        text = "" if item is None else str(item)
        lines.extend(textwrap.wrap(text, _MAX_CELL_WIDTH) or [""])
    return lines or [""]


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as fixed-width plain text: a header, a rule, and a rule between models."""
    cells = [[_cell_lines(row, key) for key, _ in _COLUMNS] for row in rows]
    widths = [
        max([len(title)] + [len(line) for row in cells for line in row[i]])
        for i, (_, title) in enumerate(_COLUMNS)
    ]
    rule = _GAP.join("-" * w for w in widths)

    def render(columns: list[str]) -> str:
        return _GAP.join(text.ljust(w) for text, w in zip(columns, widths, strict=True)).rstrip()

    out = [render([title for _, title in _COLUMNS]), rule]
    for index, row in enumerate(cells):
        if index:
            out.append(rule)
        height = max(len(lines) for lines in row)
        for line_no in range(height):
            out.append(render([lines[line_no] if line_no < len(lines) else "" for lines in row]))
    return "\n".join(out) + "\n"
