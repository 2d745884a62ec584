"""Where the data tools write: all-or-nothing files, streams, and devices or FIFOs written
through, never replaced."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from lambda_handlers.datatools._jsonl import open_outputs
from lambda_handlers.datatools.split import split_jsonl


def test_a_fifo_output_is_written_through_and_stays_a_fifo(tmp_path: Path) -> None:
    source = tmp_path / "data.jsonl"
    source.write_bytes(b"".join(b'{"i": %d}\n' % i for i in range(50)))
    fifo = tmp_path / "validation.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    report = split_jsonl(source, tmp_path / "train.jsonl", fifo, validation_fraction=0.2, seed=1)
    reader.join(timeout=60)
    assert fifo.is_fifo()
    assert received[0].count(b"\n") == report.validation == 10
    assert (tmp_path / "train.jsonl").read_bytes().count(b"\n") == 40


def test_a_stream_output_is_flushed_not_closed(tmp_path: Path) -> None:
    stream = io.BytesIO()
    with open_outputs(stream, tmp_path / "file.jsonl") as (to_stream, to_file):
        to_stream.write(b"a\n")
        to_file.write(b"b\n")
    assert not stream.closed and stream.getvalue() == b"a\n"
    assert (tmp_path / "file.jsonl").read_bytes() == b"b\n"


def test_nothing_is_committed_when_one_output_fails(tmp_path: Path) -> None:
    outputs = open_outputs(tmp_path / "first.jsonl", Path("/dev/full"))
    with pytest.raises(OSError, match="No space left on device") as raised, outputs as sinks:
        sinks[0].write(b"x\n")
        sinks[1].write(b"y\n")  # unbuffered: fails here, before anything is renamed
    assert raised.value.filename == "/dev/full"
    assert sorted(p.name for p in tmp_path.iterdir()) == []
