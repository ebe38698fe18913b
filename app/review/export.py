"""Confirmed accounts for enforcement, as CSV (spreadsheet-safe) or JSON."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from fastapi import Response

from app.review.schemas import ConfirmedAccount, ConfirmedExport, ExportFormat

CSV_COLUMNS = tuple(ConfirmedAccount.model_fields)
# A cell starting with one of these is a formula to a spreadsheet; account ids and notes come from outside.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(rows: list[ConfirmedAccount]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(getattr(row, column)) for column in CSV_COLUMNS])
    return buffer.getvalue()


def to_json(rows: list[ConfirmedAccount]) -> str:
    return ConfirmedExport(generated_at=datetime.now(UTC), count=len(rows), items=rows).model_dump_json()


def response(rows: list[ConfirmedAccount], format: ExportFormat) -> Response:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if format == "csv":
        return Response(
            to_csv(rows), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="confirmed-accounts-{stamp}.csv"'},
        )  # fmt: skip
    return Response(to_json(rows), media_type="application/json")
