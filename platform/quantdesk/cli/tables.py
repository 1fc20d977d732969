"""Tables that read at any terminal width: whole headers, columns dropped by priority, `--wide`.

Rich squeezes every column of a too-wide table until headers read `v…` and `s…`. Instead,
each column says how much it matters (`priority`: 0 is never dropped, higher drops first)
and the table keeps as many columns as fit at their natural width; a footer names the
hidden ones and points at `--wide`, which prints every column however wide the result.
Cells that are not text yet (numbers, times, None, booleans) read as everywhere else on the
desk (`quantdesk.core.display.cell`: `2026-12-07 14:02 UTC`, thousands separators, an em dash
for a missing value, yes/no). `--json` never goes through here: it keeps full precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from quantdesk.core.display import cell

__all__ = ["Col", "WideOption", "print_table"]

WideOption = Annotated[bool, typer.Option("--wide", help="Show every column, however wide the terminal (default: what fits).")]

_PADDING = 3  # rich's "│ x " per column, plus the closing border


@dataclass(frozen=True, slots=True)
class Col:
    """A table column: its header, how much it matters and how it aligns."""

    header: str
    priority: int = 1  # 0: always shown; higher numbers are hidden first when space runs out
    justify: Literal["left", "right"] = "left"
    wrap_at: int | None = None  # long free text (a JSON payload): wrap at this width instead of hiding


def _width(value: str | Text) -> int:
    text = value if isinstance(value, Text) else Text.from_markup(value)
    return max((len(line) for line in text.plain.splitlines()), default=0)


def _fit(columns: Sequence[Col], rows: Sequence[Sequence[str | Text]], width: int) -> list[int]:
    natural = [max([len(c.header), *(_width(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    natural = [min(n, max(c.wrap_at, len(c.header))) if c.wrap_at else n for n, c in zip(natural, columns, strict=True)]
    keep = list(range(len(columns)))
    # Drop the least important (then rightmost) column until the rest fit at natural width.
    while sum(natural[i] + _PADDING for i in keep) + 1 > width:
        droppable = [i for i in keep if columns[i].priority > 0]
        if not droppable:
            break
        keep.remove(max(droppable, key=lambda i: (columns[i].priority, i)))
    return keep


def print_table(
    console: Console,
    columns: Sequence[Col],
    rows: Sequence[Sequence[Any]],
    *,
    wide: bool = False,
    title: str | None = None,
) -> None:
    """Print `rows` under `columns`: what fits the terminal, or everything with `wide`.

    A cell that is not already text (str or rich Text) is formatted with `quantdesk.core.display.cell`.
    """
    rows = [[v if isinstance(v, str | Text) else cell(v) for v in row] for row in rows]
    keep = list(range(len(columns))) if wide else _fit(columns, rows, console.width)
    table = Table(title=title)
    for i in keep:
        # A header is never cut: the column is at least as wide as its name.
        wrap = columns[i].wrap_at is not None and not wide
        table.add_column(columns[i].header, justify=columns[i].justify, min_width=len(columns[i].header),
                         max_width=columns[i].wrap_at if wrap else None,
                         no_wrap=columns[i].priority == 0 and not wrap, overflow="fold")
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    if wide:
        Console(file=console.file, width=10_000, color_system=console.color_system,
                force_terminal=console.is_terminal).print(table)
    else:
        console.print(table)
    hidden = [columns[i].header for i in range(len(columns)) if i not in keep]
    if hidden:
        console.print(f"{len(hidden)} column(s) hidden to fit {console.width} columns ({', '.join(hidden)}): "
                      "use --wide to show them", style="dim", highlight=False)
