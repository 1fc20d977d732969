"""Drift: a paper/live deployment's real fills (from the ledger) against a backtest of the same window.

The summary figure, `DriftReport.drift_bps`, is the notional-weighted mean absolute
slippage of the real fills against the backtest's fill price for the same order, in basis
points: `sum(|side * (fill - backtest) / backtest| * notional) / sum(notional) * 1e4` over
matched trades. The live-promotion gate compares it with a threshold. Orders the backtest
made and the deployment did not (or the other way round) are counted in `missed_trades`
and `extra_trades`, and `equity_tracking_error_bps` gives the root-mean-square gap between
the two equity curves, relative to the backtest's equity, at each bar close.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["DeniedOrder", "DriftReport", "DriftTrade", "drift_report"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftTrade:
    """One real order (its fills summed) beside the backtest's order for the same bar and symbol.

    `slippage_bps` is signed against the trader: positive means the real fill was worse
    than the backtest's (bought higher or sold lower). Backtest fields are None when the
    backtest made no such order; real fields are None for an order only the backtest made.
    """

    symbol: str
    side: str
    signal_ts: datetime  # the bar whose close decided the trade
    fill_ts: datetime | None
    client_order_id: str | None
    qty: float | None
    fill_price: float | None
    fee: float | None
    backtest_qty: float | None
    backtest_price: float | None
    backtest_fee: float | None
    slippage_bps: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeniedOrder:
    """An order the risk gate refused (a ledger risk event)."""

    ts: datetime
    symbol: str | None
    code: str
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftReport:
    """Real fills vs the backtest over one window; `drift_bps` is the figure the live gate uses."""

    deployment: str
    stage: str
    start: datetime
    end: datetime
    bars: int
    days: float  # days from the runner's first bar (else first order) in the window to its end
    trades: tuple[DriftTrade, ...]
    denied: tuple[DeniedOrder, ...]
    matched_trades: int
    missed_trades: int  # backtest orders without a real order at that bar
    extra_trades: int  # real orders without a backtest order at that bar
    drift_bps: float | None  # notional-weighted mean |slippage| of matched trades (None: no match)
    mean_slippage_bps: float | None  # signed, notional-weighted
    equity_tracking_error_bps: float | None
    actual_fees: float
    backtest_fees: float
    actual_pnl: float
    backtest_pnl: float
    extra: dict[str, Any] = field(default_factory=dict)

    def within(self, threshold_bps: float) -> bool:
        """Return whether the drift is at most `threshold_bps` (False when nothing was matched)."""
        return self.drift_bps is not None and self.drift_bps <= threshold_bps


def drift_report(
    ledger: Any,
    deployment: Any,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    *,
    lake: Any = None,
    candles: dict[str, Any] | None = None,
) -> DriftReport:
    """Compare `deployment`'s real fills in [start, end) with a backtest over the same candles.

    `deployment` is a `quantdesk.promotion.Deployment`, a `quantdesk.live.RunSpec` or a
    deployment name (looked up in `ledger`). The window defaults to the runner's first bar
    (else the bar that decided its first order) up to its last processed bar or fill; start
    it where the deployment's book was flat, since the backtest starts flat with its capital.
    Targets see `window_bars` of history before the window, as the runner's do. Candles
    come from `lake` (default: the installation's lake) unless given as `{symbol: frame}`.
    Raise DataError when there is nothing to compare.
    Example: `drift_report(ledger, "btc-sma").drift_bps`.
    """
    from quantdesk.parity._drift_impl import build_drift_report

    return build_drift_report(ledger, deployment, start, end, lake=lake, candles=candles)
