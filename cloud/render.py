"""Showing a report `Table`: aligned text, CSV, JSON, a file for a spreadsheet (CSV with a
UTF-8 BOM, or xlsx), or a chart (PNG/SVG) for people who would rather look than read.
Decimals are printed as exact strings in every text format and are numbers in xlsx.

Owns output formats only; the figures come from `cloud.reports`.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
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


def write_file(table: Table, path: Path) -> Path:
    """The table as a file a spreadsheet opens as it is: `.csv` in UTF-8 with a byte-order
    mark (without it Excel reads 牛奶 as mojibake), or `.xlsx` (amounts as numbers with
    their decimals, the title and notes around the table)."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise UsageError(
            f"cannot write {path.name}", where="--out", fix="end the file name in .csv or .xlsx"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        path.write_text(csv_text(table), encoding="utf-8-sig", newline="")
        return path
    try:  # the `cloud` extra
        from openpyxl import Workbook
    except ImportError as exc:
        raise UsageError(
            f"xlsx needs openpyxl, which is not installed here ({exc})",
            where="--out",
            fix="install head office's libraries: pip install 'storegate[cloud]' (or write .csv)",
        ) from exc
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "report"
    sheet.append([table.title])
    sheet.append(table.columns)
    for row in table.rows:
        sheet.append([_x(c) for c in row])
        for cell, value in zip(sheet[sheet.max_row], row, strict=True):
            if isinstance(value, Decimal):
                cell.number_format = _number_format(value)
    for note in table.notes:
        sheet.append([note])
    book.save(path)
    return path


def _x(cell: Cell) -> str | int | float:
    # xlsx stores numbers as IEEE doubles: an amount of at most 15 significant digits
    # survives exactly, and its number format shows it with its own decimals.
    return float(cell) if isinstance(cell, Decimal) else cell


def _number_format(value: Decimal) -> str:
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return "0." + "0" * places if places else "0"


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


def chart(table: Table, path: Path, column: str | None = None) -> Path:
    """A bar chart of one numeric column (default: the last), a bar per row in the table's
    order, each labelled with the row's text cells (`row_label`)."""
    if path.suffix.lower() not in (".png", ".svg"):
        raise UsageError(
            f"cannot draw {path.name}", where="--chart", fix="end the file name in .png or .svg"
        )
    numeric = numeric_columns(table)
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

    use_cjk_font()

    index = table.columns.index(wanted)
    labels = [row_label(table, r) for r in table.rows]
    values = [float(r[index]) for r in table.rows]  # drawing only: floats are fine here
    longest = max((len(label) for label in labels), default=0)
    slanted = len(labels) > 8 or longest > 12
    # slanted labels get their own room below the bars instead of squeezing them
    height = 4.5 + (0.08 * min(longest, 50) if slanted else 0)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(labels) + 2), height))
    # Bars at positions, not at their labels: matplotlib puts bars of equal labels on one
    # spot, which hid all but one hour of `busy` (every row "mon") and repeated rules.
    positions = list(range(len(labels)))
    ax.bar(positions, values, color="#3b6ea5")
    ax.set_xticks(positions, labels)
    ax.set_title(textwrap.fill(table.title, 60))  # a long title wraps, never clipped
    ax.set_ylabel(wanted)
    if slanted:  # each label ends under its bar
        plt.setp(ax.get_xticklabels(), rotation=60, ha="right", rotation_mode="anchor")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def row_label(table: Table, row: list[Cell]) -> str:
    """A row's name on a chart: its text cells joined by " / " (store; weekday / hour; if
    bought / also bought; sku / name / category), so no two rows of a report look alike."""
    numeric = set(numeric_columns(table))
    return " / ".join(
        _s(c) for c, name in zip(row, table.columns, strict=True) if name not in numeric
    )


def numeric_columns(table: Table) -> list[str]:
    """The columns a chart can draw: every cell a number (none when there are no rows)."""
    return [
        c
        for i, c in enumerate(table.columns)
        if table.rows and all(isinstance(r[i], int | Decimal) for r in table.rows)
    ]


# Fonts with Chinese glyphs, best first (Debian: fonts-wqy-microhei, fonts-noto-cjk; the
# README's set-up installs the first). Matplotlib's own DejaVu Sans has none: without one of
# these a product named 牛奶 is drawn as empty boxes.
CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "AR PL UMing CN",
)


def use_cjk_font() -> str | None:
    """Put the first CJK font found ahead of matplotlib's default, keeping DejaVu Sans as
    the fallback for Latin text; returns its name (None: none installed, and labels in
    Chinese will not draw)."""
    import matplotlib
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in installed), None)
    if found is not None:
        matplotlib.rcParams["font.family"] = "sans-serif"
        matplotlib.rcParams["font.sans-serif"] = [found, "DejaVu Sans"]
    return found


def _s(cell: Cell) -> str:
    return str(cell)


def _j(cell: Cell) -> str | int:
    return str(cell) if isinstance(cell, Decimal) else cell
