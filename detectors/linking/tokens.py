"""Reading ``token_hashes`` (space-separated 6-hex-digit hashed tokens) as integers, a million events at a time.

The column is text, and turning a million strings into Python objects costs seconds; its Arrow buffers already
hold every token at a fixed stride (6 hex digits and a space), so tokens are decoded with numpy straight from
those buffers.  Anything that does not have that shape falls back to a slow, exact Python path.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

HEX_WIDTH = 6
STRIDE = HEX_WIDTH + 1

Ints = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


def _arrow_strings(values: pd.Series) -> pa.Array:
    array = values.array
    chunked = getattr(array, "_pa_array", None)
    if isinstance(chunked, pa.ChunkedArray):
        combined = chunked.combine_chunks()
    else:
        combined = pa.array(np.asarray(values.astype(object)), type=pa.large_string(), from_pandas=True)
    if combined.type == pa.string():
        combined = combined.cast(pa.large_string())
    return combined


def event_tokens(values: pd.Series, *, min_tokens: int) -> tuple[U64, Ints, Ints]:
    """(token values, the row of each token, token count per row) for rows with at least ``min_tokens`` tokens;
    other rows get no tokens and a count of 0.  A token's value is its 6 characters read as one integer: as
    good an identity as the hex value it spells."""
    n_rows = len(values)
    if n_rows == 0:
        return np.empty(0, np.uint64), np.empty(0, np.int64), np.zeros(0, np.int64)
    strings = _arrow_strings(values)
    buffers = strings.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[strings.offset : strings.offset + n_rows + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.empty(0, np.uint8)
    valid = ~np.asarray(strings.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    lengths = np.where(valid, np.diff(offsets), 0)
    if np.all((lengths == 0) | ((lengths + 1) % STRIDE == 0)):
        # one space after every non-empty row puts every token of every row on one global stride of 7 bytes
        ends = offsets[1:][lengths > 0] - offsets[0]
        joined = np.insert(data[offsets[0] : offsets[-1]], ends, np.uint8(ord(" ")))
        if len(joined) % STRIDE == 0:
            cells = joined.reshape(-1, STRIDE)
            if bool(np.all(cells[:, HEX_WIDTH] == ord(" "))):
                words = np.zeros((len(cells), 8), dtype=np.uint8)
                words[:, :HEX_WIDTH] = cells[:, :HEX_WIDTH]
                tokens = words.view("<u8").ravel()
                counts = (lengths + 1) // STRIDE * (lengths > 0)
                rows = np.repeat(np.arange(n_rows, dtype=np.int64), counts)
                enough = counts >= min_tokens
                kept = enough[rows]
                return tokens[kept], rows[kept], np.where(enough, counts, 0).astype(np.int64)
    return _slow_tokens(values, min_tokens=min_tokens)


def _slow_tokens(values: pd.Series, *, min_tokens: int) -> tuple[U64, Ints, Ints]:
    tokens: list[int] = []
    rows: list[int] = []
    counts = np.zeros(len(values), dtype=np.int64)
    for row, text in enumerate(np.asarray(values.astype(object))):
        parts = text.split() if isinstance(text, str) else []
        if len(parts) < min_tokens:
            continue
        counts[row] = len(parts)
        for part in parts:
            tokens.append(int.from_bytes(part.encode()[:8].ljust(8, b"\0"), "little"))
            rows.append(row)
    return np.array(tokens, dtype=np.uint64), np.array(rows, dtype=np.int64), counts
