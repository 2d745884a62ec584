"""The token estimate, conservative on purpose.

AWS's data-preparation pages plan with about 6 characters per token. That is an
average for English; code, numbers and non-Latin scripts take more tokens, and a
validator that must never let an over-limit record through cannot use an average.

We estimate one token per 3 UTF-8 bytes (rounded up): twice AWS's figure for English
text, about one token per character of Chinese, Japanese or Korean (3 bytes each), and
never fewer tokens than a byte-level tokenizer's worst case divided by three. Records
near the limit may be flagged although Bedrock would accept them; records over it are
not let through. The statistics in a report use the same estimate, so token totals
(and cost estimates built on them) err high.
"""

from __future__ import annotations

BYTES_PER_TOKEN = 3
DESCRIPTION = "ceil(UTF-8 bytes of the record's text / 3): conservative, about 2x AWS's 6-characters-per-token planning figure for English"


def utf8_length(text: str) -> int:
    """Bytes of ``text`` in UTF-8, without encoding ASCII text (``isascii`` is O(1))."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def estimate_tokens_from_bytes(n_bytes: int) -> int:
    return -(-n_bytes // BYTES_PER_TOKEN)


def estimate_tokens(text: str) -> int:
    return estimate_tokens_from_bytes(utf8_length(text))
