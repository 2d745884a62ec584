"""Console output: rich on a terminal, plain text when piped, JSON untouched."""

from __future__ import annotations

import io
import json

from rich.table import Column

from lambda_handlers.cli.console import PIPED_WIDTH, Output
from tests.cli.helpers import ESCAPE

MB = 1024 * 1024


class Tty(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal() -> None:
    piped, tty = io.StringIO(), Tty()
    for stream in (piped, tty):
        out = Output(io.StringIO(), stream)
        with out.progress("validating", 64 * MB, min_total=16 * MB) as advance:
            advance(32 * MB)
    assert piped.getvalue() == ""
    assert "50%" in tty.getvalue()
    assert "validating" in tty.getvalue()


def test_no_progress_bar_under_the_minimum_or_without_a_size() -> None:
    for total in (8 * MB, 0, None):
        tty = Tty()
        with Output(io.StringIO(), tty).progress("validating", total, min_total=16 * MB) as advance:
            advance(4 * MB)
        assert tty.getvalue() == ""


def test_the_progress_bar_is_removed_when_the_block_ends() -> None:
    tty = Tty()
    with Output(io.StringIO(), tty).progress("validating", 64 * MB) as advance:
        advance(64 * MB)
    drawn, last = tty.getvalue().rsplit("\n", 1)
    assert "100%" in drawn
    # After the last bar, rich moves the cursor up and erases the line (ESC [2K): no bar stays.
    assert "\x1b[2K" in last and "validating" not in last


def sample_table(out: Output) -> None:
    table = out.table("NAME", Column("COUNT", justify="right"), "NOTE", row_lines=True)
    table.add_row("alpha", "1", "first line\nsecond line", style="red")
    table.add_row("beta", "10,000", "")
    out.show(table)


def test_a_table_is_plain_text_when_piped() -> None:
    stdout = io.StringIO()
    sample_table(Output(stdout, io.StringIO()))
    text = stdout.getvalue()
    assert ESCAPE not in text
    assert text.isascii()
    assert text.splitlines() == [
        "NAME     COUNT   NOTE",
        "----------------------------",
        "alpha        1   first line",
        "                 second line",
        "----------------------------",
        "beta    10,000",
    ]


def test_a_table_is_drawn_by_rich_on_a_terminal() -> None:
    stdout = Tty()
    sample_table(Output(stdout, io.StringIO()))
    text = stdout.getvalue()
    assert ESCAPE in text, "colour and bold on a terminal"
    assert "─" in text, "box-drawing characters on a terminal"
    assert "alpha" in text and "10,000" in text


def test_piped_output_has_a_fixed_width_whatever_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    out = Output(io.StringIO(), io.StringIO())
    assert out.stdout_console.width == PIPED_WIDTH
    assert not out.is_terminal


def test_lines_are_never_wrapped_or_read_as_markup() -> None:
    stdout = io.StringIO()
    out = Output(stdout, io.StringIO())
    long = "x " * 200 + "[bold]arn:aws:bedrock:us-east-1::foundation-model/a:smile:"
    out.line(long, style="bold red")
    assert stdout.getvalue() == long + "\n"


def test_json_is_exactly_json_even_on_a_terminal() -> None:
    data = {"name": "données", "items": [1, 2], "text": "[red]not markup[/red]"}
    stdout = Tty()
    Output(stdout, io.StringIO()).json(data)
    assert stdout.getvalue() == json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def test_an_error_is_one_line_on_stderr() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    Output(stdout, stderr).error("no such file:\n  data.jsonl")
    assert stdout.getvalue() == ""
    assert stderr.getvalue() == "error: no such file: data.jsonl\n"
