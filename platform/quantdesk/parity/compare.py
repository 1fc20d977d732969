"""Compare a replay with a backtest bar by bar: targets exactly, fills within a relative tolerance.

Both sides come as long polars frames so the comparison does not care who produced them:
targets `ts, symbol, target` (one row per bar and symbol) and fills `ts, symbol, side, qty,
price, fee` (`ts` the bar the fill happened in, `side` "buy"/"sell"). Several fills of one
side in one bar (partial fills) are summed into one: total quantity, volume-weighted price
and total fee, because the backtest fills each bar's order in one piece.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import polars as pl

__all__ = ["DifferenceKind", "ParityDifference", "aggregate_fills", "compare_runs", "within"]

TARGET_COLUMNS = ("ts", "symbol", "target")
FILL_COLUMNS = ("ts", "symbol", "side", "qty", "price", "fee")
# Fees and quantities can be exactly zero; below this absolute size two numbers are equal.
ABS_FLOOR = 1e-12


class DifferenceKind(StrEnum):
    """What disagrees at a bar."""

    TARGET = "target"  # the target exposures differ (compared exactly)
    TARGET_MISSING = "target_missing"  # a bar one side decided on and the other did not
    FILL_MISSING = "fill_missing"  # the backtest filled, the replay did not
    FILL_EXTRA = "fill_extra"  # the replay filled, the backtest did not
    FILL_QTY = "fill_qty"
    FILL_PRICE = "fill_price"
    FILL_FEE = "fill_fee"


@dataclass(frozen=True, slots=True, kw_only=True)
class ParityDifference:
    """One disagreement at one bar: the backtest's value, the replay's, and how far apart."""

    bar: int
    ts: datetime
    symbol: str
    kind: DifferenceKind
    side: str | None
    backtest: float | None
    replay: float | None
    relative: float | None  # |replay - backtest| / |backtest| (None when one side is missing)

    def describe(self) -> str:
        """Return a one-line human description."""
        where = f"bar {self.bar} {self.ts:%Y-%m-%d %H:%M} {self.symbol}"
        side = f" {self.side}" if self.side else ""
        rel = f" (rel {self.relative:.3g})" if self.relative is not None else ""
        return f"{where}{side}: {self.kind.value} backtest={_fmt(self.backtest)} replay={_fmt(self.replay)}{rel}"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.10g}"


def within(a: float, b: float, rel_tol: float) -> bool:
    """Return whether a and b agree within `rel_tol` relative (or both are below ABS_FLOOR)."""
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=ABS_FLOOR)


def _relative(backtest: float, replay: float) -> float:
    scale = abs(backtest) if backtest != 0 else max(abs(replay), ABS_FLOOR)
    return abs(replay - backtest) / scale


def aggregate_fills(fills: pl.DataFrame) -> pl.DataFrame:
    """Sum fills per (ts, symbol, side): total qty, volume-weighted price, total fee."""
    missing = [c for c in FILL_COLUMNS if c not in fills.columns]
    if missing:
        raise ValueError(f"fills need columns {list(FILL_COLUMNS)}; missing {missing}")
    return (
        fills.select(FILL_COLUMNS)
        .with_columns(pl.col("qty", "price", "fee").cast(pl.Float64), pl.col("side").cast(pl.String))
        .group_by("ts", "symbol", "side", maintain_order=True)
        .agg(
            pl.col("qty").sum(),
            ((pl.col("qty") * pl.col("price")).sum() / pl.col("qty").sum()).alias("price"),
            pl.col("fee").sum(),
        )
    )


def compare_runs(
    *,
    backtest_targets: pl.DataFrame,
    replay_targets: pl.DataFrame,
    backtest_fills: pl.DataFrame,
    replay_fills: pl.DataFrame,
    rel_tol: float = 1e-9,
) -> list[ParityDifference]:
    """Return every difference between a backtest and a replay, ordered by bar then symbol.

    Targets must be equal exactly (a NaN equals a NaN); fills' quantity, price and fee must
    agree within `rel_tol` relative. A bar's number is its position in the union of both
    runs' bar times.
    """
    bars = sorted(set(backtest_targets["ts"].to_list()) | set(replay_targets["ts"].to_list())
                  | set(backtest_fills["ts"].to_list()) | set(replay_fills["ts"].to_list()))
    bar_of = {ts: i for i, ts in enumerate(bars)}
    out: list[ParityDifference] = []
    out += _compare_targets(backtest_targets, replay_targets, bar_of)
    out += _compare_fills(aggregate_fills(backtest_fills), aggregate_fills(replay_fills), bar_of, rel_tol)
    return sorted(out, key=lambda d: (d.bar, d.symbol, list(DifferenceKind).index(d.kind)))


def _compare_targets(bt: pl.DataFrame, rp: pl.DataFrame, bar_of: dict[datetime, int]) -> list[ParityDifference]:
    left = bt.select(TARGET_COLUMNS).with_columns(pl.col("target").cast(pl.Float64))
    right = rp.select(TARGET_COLUMNS).with_columns(pl.col("target").cast(pl.Float64))
    joined = left.join(right, on=["ts", "symbol"], how="full", coalesce=True, suffix="_replay")
    out: list[ParityDifference] = []
    for ts, symbol, b, r in joined.select("ts", "symbol", "target", "target_replay").iter_rows():
        if b is None or r is None:
            kind = DifferenceKind.TARGET_MISSING
        elif b == r or (math.isnan(b) and math.isnan(r)):
            continue
        else:
            kind = DifferenceKind.TARGET
        rel = None if b is None or r is None else _relative(b, r)
        out.append(ParityDifference(bar=bar_of[ts], ts=ts, symbol=symbol, kind=kind, side=None,
                                    backtest=b, replay=r, relative=rel))
    return out


def _compare_fills(bt: pl.DataFrame, rp: pl.DataFrame, bar_of: dict[datetime, int], rel_tol: float) -> list[ParityDifference]:
    joined = bt.join(rp, on=["ts", "symbol", "side"], how="full", coalesce=True, suffix="_replay")
    out: list[ParityDifference] = []
    for row in joined.iter_rows(named=True):
        base = {"bar": bar_of[row["ts"]], "ts": row["ts"], "symbol": row["symbol"], "side": row["side"]}
        if row["qty_replay"] is None:
            out.append(ParityDifference(kind=DifferenceKind.FILL_MISSING, backtest=row["qty"], replay=None,
                                        relative=None, **base))
            continue
        if row["qty"] is None:
            out.append(ParityDifference(kind=DifferenceKind.FILL_EXTRA, backtest=None, replay=row["qty_replay"],
                                        relative=None, **base))
            continue
        for kind, column in ((DifferenceKind.FILL_QTY, "qty"), (DifferenceKind.FILL_PRICE, "price"),
                             (DifferenceKind.FILL_FEE, "fee")):
            b, r = float(row[column]), float(row[f"{column}_replay"])
            if not within(b, r, rel_tol):
                out.append(ParityDifference(kind=kind, backtest=b, replay=r, relative=_relative(b, r), **base))
    return out
