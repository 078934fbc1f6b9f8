"""Showing a report `Table`: aligned text, CSV, JSON, or a chart (PNG/SVG) for people who
would rather look than read. Decimals are printed as exact strings in every format.

Owns output formats only; the figures come from `cloud.reports`.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

from cloud.reports import Cell, Table
from gateway.errors import UsageError


def text(table: Table) -> str:
    cells = [table.columns] + [[_s(c) for c in row] for row in table.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(table.columns))]
    numeric = [
        all(isinstance(row[i], int | Decimal) for row in table.rows)
        for i in range(len(table.columns))
    ]
    lines = [table.title, ""]
    for r in cells:
        lines.append(
            "  ".join(
                c.rjust(widths[i]) if numeric[i] else c.ljust(widths[i]) for i, c in enumerate(r)
            ).rstrip()
        )
    lines += ["", *table.notes] if table.notes else []
    return "\n".join(lines)


def csv_text(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_s(c) for c in row])
    return out.getvalue()


def json_text(table: Table) -> str:
    return json.dumps(
        {
            "title": table.title,
            "columns": table.columns,
            "rows": [
                dict(zip(table.columns, [_j(c) for c in row], strict=True)) for row in table.rows
            ],
            "notes": table.notes,
        },
        indent=2,
        ensure_ascii=False,
    )


def write_file(table: Table, path: Path) -> Path:
    """The table as a file for spreadsheets, by its extension: `.csv` is UTF-8 with a BOM
    (so Excel reads 中文 names right), `.xlsx` an Excel workbook (openpyxl, the `cloud`
    extra) whose figures are numbers, not text."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise UsageError(
            f"cannot write {path.name}", where="--out", fix="end the file name in .csv or .xlsx"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        path.write_text(csv_text(table), encoding="utf-8-sig", newline="")
        return path
    try:  # the `cloud` extra: head office only
        from openpyxl import Workbook
    except ImportError as exc:
        raise UsageError(
            f"xlsx files need openpyxl, which is not installed here ({exc})",
            where="--out",
            fix="install head office's libraries: pip install 'storegate[cloud]' (or write a .csv)",
        ) from exc
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "".join(" " if c in "[]:*?/\\" else c for c in table.title)[:31]
    sheet.append(table.columns)
    for row in table.rows:
        sheet.append(list(row))  # Decimal and int cells are stored as numbers
    if table.notes:
        notes = book.create_sheet("notes")
        for note in table.notes:
            notes.append([note])
    book.save(path)
    return path


def chart(table: Table, path: Path, column: str | None = None) -> Path:
    """A bar chart of one numeric column (default: the last) against the first column."""
    if path.suffix.lower() not in (".png", ".svg"):
        raise UsageError(
            f"cannot draw {path.name}", where="--chart", fix="end the file name in .png or .svg"
        )
    numeric = [
        c
        for i, c in enumerate(table.columns)
        if table.rows and all(isinstance(r[i], int | Decimal) for r in table.rows)
    ]
    if not numeric:
        raise UsageError(
            "this report has no numeric column to draw",
            where="--chart",
            fix="draw a report with figures, e.g. sales --by day",
        )
    wanted = column or numeric[-1]
    if wanted not in numeric:
        raise UsageError(
            f"no numeric column {wanted!r}",
            where="--chart-column",
            fix=f"choose one of {', '.join(numeric)}",
        )
    try:  # the `cloud` extra: head office only, a box never draws charts
        import matplotlib
    except ImportError as exc:
        raise UsageError(
            f"charts need matplotlib, which is not installed here ({exc})",
            where="--chart",
            fix="install head office's libraries: pip install "
            "'storegate[cloud]' (or leave out --chart)",
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    index = table.columns.index(wanted)
    labels = [_s(r[0]) for r in table.rows]
    values = [float(r[index]) for r in table.rows]  # drawing only: floats are fine here
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(labels) + 2), 4.5))
    ax.bar(labels, values, color="#3b6ea5")
    ax.set_title(table.title)
    ax.set_ylabel(wanted)
    ax.tick_params(axis="x", labelrotation=60 if len(labels) > 8 else 0)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _s(cell: Cell) -> str:
    return str(cell)


def _j(cell: Cell) -> str | int:
    return str(cell) if isinstance(cell, Decimal) else cell
