"""Shared CLI plumbing: one-line errors, `--json` output, progress bars.

Heavy libraries (vectorbt, numba, ccxt, prefect) are imported inside command functions,
never at module level, so `quantdesk --help` stays instant.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from quantdesk.core.errors import ConfigError, QuantdeskError
from quantdesk.core.jsonable import to_jsonable

__all__ = [
    "JsonOption",
    "console",
    "emit",
    "err_console",
    "fail",
    "handle_errors",
    "progress",
    "to_jsonable",
]

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
MarketOption = Annotated[str, typer.Option(
    "--market", help="spot, or futures: a USDT-M perpetual with leverage, funding and liquidation.")]
LeverageOption = Annotated[float, typer.Option("--leverage", help="Futures only: notional per unit of margin (1-125).")]


def check_leverage(market: str, leverage: float) -> None:
    """Refuse a `--leverage` without `--market futures`: spot trades without leverage."""
    if market == "spot" and leverage != 1.0:
        raise ConfigError("--leverage applies to futures; add --market futures (spot trades without leverage)")

F = TypeVar("F", bound=Callable[..., Any])




def emit(payload: Any) -> None:
    """Print `payload` as JSON on stdout (the `--json` contract: one JSON document)."""
    sys.stdout.write(json.dumps(to_jsonable(payload), indent=2, sort_keys=False) + "\n")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error to stderr and return the Exit to raise."""
    from rich.markup import escape

    # escaped: a message that names `[[risk.scenarios]]` or `[risk.default]` must print as written
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn a `QuantdeskError` into a one-line message and a non-zero exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QuantdeskError as e:
            if os.environ.get("QUANTDESK_DEBUG"):  # a developer's view: the traceback before the one line
                import traceback

                traceback.print_exc()
            raise fail(str(e), getattr(e, "exit_code", 1)) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def progress(description: str, total: int | None, *, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Show a progress bar on stderr; yield `advance(n)`. Disabled for `--json` or when not a TTY."""
    if not enabled:
        yield lambda n=1: None
        return
    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
