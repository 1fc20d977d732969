"""The desk's positions from the ledger's fills, per deployment, venue, account and symbol.

A fill belongs to the deployment of its order (`manual` for orders from the CLI or the ticket,
`external` for fills the desk did not order). A perpetual (a unified swap symbol such as
`XRP/USDT:USDT`) replays its fills through `quantdesk.core.perpetual.IsolatedPosition` at the
deployment's leverage (Binance's default 20x where no deployment says), which gives its entry
price and isolated margin, the inputs of its liquidation price. `PositionTracker` reads only the
fills stored since its last look, so the gate's source can refresh the book every minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from quantdesk.book.deployments import DeploymentInfo, deployment_infos
from quantdesk.core.perpetual import IsolatedPosition

__all__ = ["BookPosition", "PositionTracker", "asset_of", "book_positions", "is_perpetual"]

DEFAULT_LEVERAGE = Decimal(20)  # Binance's default setting (IsolatedPosition's)


def is_perpetual(symbol: str) -> bool:
    """A unified swap symbol (`BASE/QUOTE:SETTLE`) is a perpetual."""
    return ":" in symbol


def asset_of(symbol: str) -> str:
    """The base asset of a symbol (`XRP/USDT:USDT` -> `XRP`)."""
    return symbol.split("/", 1)[0].split("@", 1)[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class BookPosition:
    """One open position: who holds it, where, how much; a perpetual's entry and margin."""

    deployment: str
    venue: str
    account: str
    symbol: str
    qty: Decimal
    perpetual: bool = False
    leverage: float | None = None
    entry: float | None = None
    margin: float | None = None
    exchange: str | None = None  # the deployment's lake exchange, when it names one

    @property
    def asset(self) -> str:
        return asset_of(self.symbol)


@dataclass(slots=True)
class _Holding:
    qty: Decimal = Decimal(0)
    perp: IsolatedPosition | None = None


@dataclass(slots=True)
class PositionTracker:
    """Fold the ledger's fills into positions per (deployment, venue, account, symbol), incrementally."""

    deployments: dict[str, DeploymentInfo] = field(default_factory=dict)
    holdings: dict[tuple[str, str, str, str], _Holding] = field(default_factory=dict)
    owners: dict[int, str] = field(default_factory=dict)  # order id -> deployment
    last_fill_id: int = 0

    @classmethod
    def load(cls, ledger: Any) -> PositionTracker:
        """Read every deployment and fill of `ledger`."""
        tracker = cls(deployments=deployment_infos(ledger))
        tracker.update(ledger)
        return tracker

    def _leverage(self, deployment: str) -> Decimal:
        d = self.deployments.get(deployment)
        if d is not None and d.market == "futures":
            return Decimal(str(d.leverage))
        return DEFAULT_LEVERAGE

    def update(self, ledger: Any) -> int:
        """Fold in the fills stored since the last call; return how many there were."""
        fills = ledger.fills(after_id=self.last_fill_id) if self.last_fill_id else ledger.fills()
        if not fills:
            return 0
        unknown = [f for f in fills if f.order_id is not None and f.order_id not in self.owners]
        if unknown and not self.owners:  # the first look: every order at once
            self.owners = {o.id: o.deployment or "manual" for o in ledger.orders()}
        for f in unknown:  # later looks: the few new orders one by one
            if f.order_id not in self.owners and f.client_order_id:
                order = ledger.order(f.client_order_id)
                if order is not None:
                    self.owners[order.id] = order.deployment or "manual"
        for f in sorted(fills, key=lambda f: f.id):
            owner = self.owners.get(f.order_id, "external") if f.order_id is not None else "external"
            key = (owner, f.venue, f.account, f.symbol)
            holding = self.holdings.setdefault(key, _Holding())
            holding.qty += f.signed_qty
            if is_perpetual(f.symbol):
                if holding.perp is None:
                    holding.perp = IsolatedPosition(leverage=self._leverage(owner))
                holding.perp, _ = holding.perp.fill(f.signed_qty, f.price)
            self.last_fill_id = max(self.last_fill_id, f.id)
        return len(fills)

    def positions(self, deployment: str | None = None) -> list[BookPosition]:
        """Return the open positions (of one deployment when given), sorted."""
        out = []
        for (owner, venue, account, symbol), h in sorted(self.holdings.items()):
            if not h.qty or (deployment is not None and owner != deployment):
                continue
            d = self.deployments.get(owner)
            perp = h.perp if h.perp is not None and h.perp.qty else None
            out.append(BookPosition(
                deployment=owner, venue=venue, account=account, symbol=symbol, qty=h.qty,
                perpetual=is_perpetual(symbol),
                leverage=float(perp.leverage) if perp is not None else None,
                entry=float(perp.entry) if perp is not None else None,
                margin=float(perp.margin) if perp is not None else None,
                exchange=d.exchange if d is not None else None))
        return out


def book_positions(ledger: Any, deployment: str | None = None) -> list[BookPosition]:
    """Return the desk's open positions (or one deployment's) from the ledger."""
    return PositionTracker.load(ledger).positions(deployment)
