"""Memory does not grow with the file beyond a few bytes per record (the fingerprints)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from lambda_handlers.validation import open_source, validate_dataset
from lambda_handlers.validation.rules import DatasetRules
from lambda_handlers.validation.sources import BLOCK_BYTES

RECORD_BYTES = 500


def write(path: Path, n: int) -> Path:
    with path.open("w") as out:
        for i in range(n):
            prompt = f"Ticket {i}: " + "the order arrived late and damaged " * (RECORD_BYTES // 36)
            out.write(
                json.dumps({"prompt": prompt, "completion": ["late", "damaged", "ok"][i % 3]})
                + "\n"
            )
    return path


def peak_bytes(path: Path, fmt: str = "prompt-completion") -> int:
    tracemalloc.start()
    try:
        report = validate_dataset(
            open_source(path),
            customization_type="FINE_TUNING",
            base_model="m",
            rules=DatasetRules(format=fmt),
        )
        assert report["files"]["training"]["records"] > 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_grows_by_a_few_bytes_per_record_not_with_the_file(tmp_path: Path) -> None:
    small, large = 10_000, 40_000
    peak_small = peak_bytes(write(tmp_path / "small.jsonl", small))
    large_path = write(tmp_path / "large.jsonl", large)
    peak_large = peak_bytes(large_path)
    extra_records = large - small
    growth = peak_large - peak_small
    # Holding the file would add about 500 bytes a record; fingerprints and line numbers add
    # 12, and sorting them for the duplicate check briefly a few times that.
    assert growth < 64 * extra_records, f"grew {growth / extra_records:.0f} bytes per extra record"
    # The rest is one block and its decoded records, whatever the file size.
    assert peak_large - 64 * large < 4 * BLOCK_BYTES, peak_large
