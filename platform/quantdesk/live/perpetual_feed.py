"""Funding settlements and mark bars of a perpetual, from the lake, for the live runner.

A futures deployment's book pays funding and can be liquidated; the venue does both on its
side, and the runner must book them too. The lake holds what it needs (`quantdesk ingest
--futures-data`): funding rates (`Lake.funding`) and mark candles (`SYMBOL@mark`). A settlement
belongs to the bar whose [open, open + timeframe) holds its timestamp and is paid at that
bar's mark open, as `quantdesk.backtest.futures` aligns them; a bar without a mark candle
falls back to the trade candle, as there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from quantdesk.core.timeframes import timeframe_ms
from quantdesk.live.futures_book import FuturesBook

__all__ = ["MarkBar", "PerpetualFeed", "Settlement", "book_fill", "futures_book", "settle_paper_bar"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Settlement:
    """One funding settlement: the bar it falls in, its time, its rate and the mark it is paid at."""

    bar_ms: int
    ts_ms: int
    rate: float
    mark: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkBar:
    open: float
    high: float
    low: float
    close: float


class PerpetualFeed:
    """Read one perpetual's settlements and mark bars from the lake (see the module doc)."""

    def __init__(self, lake: Any, *, exchange: str, symbol: str, timeframe: str) -> None:
        self.lake, self.exchange, self.symbol, self.timeframe = lake, exchange, symbol, timeframe
        self.step_ms = timeframe_ms(timeframe)

    def _bars(self, name: str, start_ms: int, end_ms: int) -> pl.DataFrame:
        from quantdesk.core.errors import LakeError

        try:
            frame = self.lake.candles(name, self.timeframe, start=start_ms, end=end_ms, exchange=self.exchange)
        except LakeError:  # no such series (yet): nothing to read
            return pl.DataFrame()
        if "forming" in frame.columns:
            frame = frame.filter(~pl.col("forming"))
        return frame

    def mark_bars(self, start_ms: int, end_ms: int) -> dict[int, MarkBar]:
        """Return the closed mark bars opening in [start, end) by open ms (trade bars where no mark)."""
        from quantdesk.lake import mark_symbol

        if end_ms <= start_ms:
            return {}
        out: dict[int, MarkBar] = {}
        for name in (self.symbol, mark_symbol(self.symbol)):  # the mark's bars override the trade's
            frame = self._bars(name, start_ms, end_ms)
            if frame.height:
                for ts, o, h, lo, c in frame.select(pl.col("ts").dt.epoch("ms"), "open", "high", "low",
                                                     "close").iter_rows():
                    out[int(ts)] = MarkBar(open=o, high=h, low=lo, close=c)
        return out

    def settlements(self, start_ms: int, end_ms: int, *, marks: dict[int, MarkBar] | None = None) -> list[Settlement]:
        """Return the settlements whose bars open in [start, end), oldest first.

        `marks`: `mark_bars(start, end)` when the caller has read them already.
        """
        if end_ms <= start_ms:
            return []
        rates = self.lake.funding.read(self.symbol, exchange=self.exchange, start=start_ms, end=end_ms)
        if rates.height == 0:
            return []
        if marks is None:
            marks = self.mark_bars(start_ms, end_ms)
        out = []
        for ts, rate in rates.select(pl.col("ts").dt.epoch("ms"), "rate").iter_rows():
            bar = int(ts) - (int(ts) % self.step_ms)
            mark = marks.get(bar)
            if mark is not None:  # a settlement in a bar the lake lacks is paid when that bar arrives
                out.append(Settlement(bar_ms=bar, ts_ms=int(ts), rate=float(rate), mark=mark.open))
        return out


def book_fill(book: Any, fill: Any) -> None:
    """Book one ledger fill into a spot `Account` or a `FuturesBook`.

    A perpetual's `autoclose-` fill is the venue's liquidation: the book loses the position's
    margin (the fill's price is where the venue closed it; the rest was its clearance fee).
    """
    if isinstance(book, FuturesBook) and (fill.client_order_id or "").startswith("autoclose-"):
        book.liquidate(fill.symbol)
        return
    book.apply_fill(fill.symbol, float(fill.signed_qty), float(fill.price), float(fill.fee))


def futures_book(fills: list[Any], settlements: list[Settlement], *, capital: float, leverage: float,
                 symbol: str) -> Any:
    """Build a futures deployment's book: its fills and the funding settlements, in time order.

    At equal times a fill comes first: the backtest fills at a bar's open, then settles the
    funding inside that bar.
    """
    book = FuturesBook(cash=capital, leverage=leverage)
    events = [(int(f.ts.timestamp() * 1000), 0, f) for f in fills] + [(s.bar_ms, 1, s) for s in settlements]
    for _ms, kind, item in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == 1:
            book.fund(symbol, item.mark, item.rate)
        else:
            book_fill(book, item)
    return book


def settle_paper_bar(feed: PerpetualFeed, gated: Any, symbol: str, bar_ms: int) -> None:
    """At a bar's close, let a paper perpetual settle the bar's funding and judge its mark bar.

    A real venue does both itself; the paper broker is told, in the backtest's order (funding,
    then liquidation). A liquidation's autoclose fill is pulled into the ledger at once.
    """
    broker = gated.broker
    if not hasattr(broker, "settle_funding"):
        return
    marks = feed.mark_bars(bar_ms, bar_ms + feed.step_ms)  # read once: for the funding and the liquidation
    for settlement in feed.settlements(bar_ms, bar_ms + feed.step_ms, marks=marks):
        broker.settle_funding(symbol, settlement.rate, mark=settlement.mark)
    mark = marks.get(bar_ms)
    if mark is not None and broker.update_mark(symbol, low=mark.low, high=mark.high, close=mark.close,
                                               open=mark.open) is not None:
        gated.sync_fills()
