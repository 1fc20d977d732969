"""Daily loss and drawdown tracking for one deployment's equity."""

from __future__ import annotations

from decimal import Decimal

from quantdesk.core.types import TradingState
from quantdesk.risk.config import RiskLimits
from quantdesk.risk.decision import DenialCode

__all__ = ["EquityTracker"]

_HUNDRED = Decimal(100)


class EquityTracker:
    """Remember the equity peak and the equity at the start of the UTC day.

    A limit is breached when it is reached (loss >= limit), so a limit of 3% stops trading
    at a 3% loss. The day starts with the first equity seen in that UTC day.
    """

    __slots__ = ("day", "day_start", "last", "peak")

    def __init__(self) -> None:
        self.day: int | None = None
        self.day_start: Decimal | None = None
        self.peak: Decimal | None = None
        self.last: Decimal | None = None

    def rebase(self) -> None:
        """Measure from the last equity again (after a manual resume)."""
        if self.last is not None:
            self.peak = self.day_start = self.last

    def update(
        self, equity: Decimal, day: int, limits: RiskLimits
    ) -> tuple[TradingState, DenialCode, str] | None:
        """Take a new equity reading; return (state, code, reason) for the most severe breach."""
        self.last = equity
        if self.day != day or self.day_start is None:
            self.day, self.day_start = day, equity
        if self.peak is None or equity > self.peak:
            self.peak = equity
        breaches: list[tuple[TradingState, DenialCode, str]] = []
        loss = self.day_start - equity
        if limits.daily_loss_limit is not None and loss >= limits.daily_loss_limit:
            breaches.append(
                (limits.on_daily_loss, DenialCode.DAILY_LOSS_LIMIT,
                 f"daily loss {loss} reached the limit {limits.daily_loss_limit}")
            )
        if (
            limits.daily_loss_limit_pct is not None
            and self.day_start > 0
            and loss * _HUNDRED >= limits.daily_loss_limit_pct * self.day_start
        ):
            breaches.append(
                (limits.on_daily_loss, DenialCode.DAILY_LOSS_LIMIT,
                 f"daily loss {loss * _HUNDRED / self.day_start:.2f}% reached the limit {limits.daily_loss_limit_pct}%")
            )
        drawdown = self.peak - equity
        if (
            limits.max_drawdown_pct is not None
            and self.peak > 0
            and drawdown * _HUNDRED >= limits.max_drawdown_pct * self.peak
        ):
            breaches.append(
                (limits.on_max_drawdown, DenialCode.MAX_DRAWDOWN,
                 f"drawdown {drawdown * _HUNDRED / self.peak:.2f}% from peak {self.peak} reached the limit "
                 f"{limits.max_drawdown_pct}%")
            )
        if not breaches:
            return None
        # HALTED beats REDUCING; on a tie the first listed (daily loss) wins
        return max(breaches, key=lambda b: b[0] is TradingState.HALTED)
