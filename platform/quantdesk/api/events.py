"""The desk's event feed: fills, denials, trading-state changes and promotion decisions, resumable.

Events come from the ledger itself: fills (`fills.id`), denials and automatic state changes
(`risk_events` not approved, `id`), and from the audit log (`seq`) the trading-state changes
(`trading_state.set`, by anyone or by the gate) and the promotion decisions. An event's id is
the feed's position after it, `FILL.RISK.AUDIT` (three keys that only grow), so a client that
reconnects with `Last-Event-ID` gets exactly what it has not seen, whatever order the three
tables were written in. `ChangeHub` wakes streams when the ledger's change marker moves (a commit
from any process); between commits nothing is queried.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import re
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio.to_thread
from sqlalchemy import func, select

from quantdesk.ledger import ChangeWatch, Ledger
from quantdesk.ledger.pages import PageQuery, audit_page, fills_page, risk_events_page
from quantdesk.ledger.schema import audit_log, fills, risk_events

__all__ = ["EVENT_TYPES", "ChangeHub", "FeedPosition", "read_events"]

EVENT_TYPES = ("fill", "denial", "state", "promotion")
_STATE_ACTIONS = ("trading_state.set",)
_PROMOTION_ACTIONS = ("promotion.request", "promotion.paper", "promotion.approve", "promotion.reject",
                      "promotion.refuse")
_POSITION_RE = re.compile(r"^(\d{1,18})\.(\d{1,18})\.(\d{1,18})$")
_BATCH = 200


@dataclass(frozen=True, slots=True)
class FeedPosition:
    """How far a client has read each source: last fill id, risk event id and audit seq."""

    fill: int
    risk: int
    audit: int

    def __str__(self) -> str:
        return f"{self.fill}.{self.risk}.{self.audit}"

    @classmethod
    def parse(cls, text: str) -> FeedPosition | None:
        """Return the position an event id names, or None when `text` is not one."""
        found = _POSITION_RE.match(text.strip())
        return None if found is None else cls(*(int(g) for g in found.groups()))

    @classmethod
    def now(cls, ledger: Ledger) -> FeedPosition:
        """Return the position after everything stored so far (a new client starts here)."""
        heads = select(*(select(func.coalesce(func.max(c), 0)).scalar_subquery()
                         for c in (fills.c.id, risk_events.c.id, audit_log.c.seq)))
        with ledger._read() as c:
            return cls(*(int(v) for v in c.execute(heads).one()))


def _fill(f: Any) -> dict[str, Any]:
    return {"id": f.id, "ts": f.ts, "venue": f.venue, "account": f.account, "symbol": f.symbol, "side": str(f.side),
            "qty": format(f.qty, "f"), "price": format(f.price, "f"), "fee": format(f.fee, "f"),
            "fee_currency": f.fee_currency, "client_order_id": f.client_order_id, "trade_id": f.trade_id}


def _denial(e: Any) -> dict[str, Any]:
    return {"id": e.id, "ts": e.ts, "code": e.code, "detail": e.detail, "deployment": e.deployment,
            "venue": e.venue, "symbol": e.symbol}


def _audited(e: Any) -> dict[str, Any]:
    keep = ("scope", "state", "previous", "reason", "deployment", "promotion_id", "to_stage", "stage",
            "requested_by", "run_id", "strategy")
    return {"seq": e.seq, "ts": e.ts, "action": e.action, "actor": e.actor,
            **{k: e.payload[k] for k in keep if k in e.payload}}


def read_events(ledger: Ledger, position: FeedPosition, types: frozenset[str]
                ) -> tuple[list[tuple[FeedPosition, str, dict[str, Any]]], FeedPosition, bool]:
    """Return the events after `position` (oldest first, each with its id), the new position and
    whether more are waiting (read again at once)."""
    sources: list[list[tuple[datetime, str, int, dict[str, Any]]]] = []
    full = False
    if "fill" in types:
        page = fills_page(ledger, PageQuery(limit=_BATCH, after=position.fill))
        sources.append([(f.ts, "fill", f.id, _fill(f)) for f in page.items])
        full |= page.next_key is not None
    if "denial" in types:
        page_r = risk_events_page(ledger, PageQuery(limit=_BATCH, after=position.risk), approved=False)
        sources.append([(e.ts, "denial", e.id, _denial(e)) for e in page_r.items])
        full |= page_r.next_key is not None
    actions = (_STATE_ACTIONS if "state" in types else ()) + (_PROMOTION_ACTIONS if "promotion" in types else ())
    if actions:
        page_a = audit_page(ledger, PageQuery(limit=_BATCH, after=position.audit), actions=actions)
        sources.append([(e.ts, "state" if e.action in _STATE_ACTIONS else "promotion", e.seq, _audited(e))
                        for e in page_a.items])
        full |= page_a.next_key is not None
    out = []
    fill, risk, audit = position.fill, position.risk, position.audit
    # each source stays in key order (a resumed feed skips exactly what it has seen); time orders across them
    for _, kind, key, data in heapq.merge(*sources, key=lambda item: item[0]):
        if kind == "fill":
            fill = key
        elif kind == "denial":
            risk = key
        else:
            audit = key
        out.append((FeedPosition(fill, risk, audit), kind, data))
    return out, FeedPosition(fill, risk, audit), full


class ChangeHub:
    """Wake waiting streams when the ledger's change marker moves (polled off the event loop)."""

    def __init__(self, ledger: Ledger, *, poll_s: float = 0.1) -> None:
        self._watch = ChangeWatch(ledger)
        self._poll_s = poll_s
        self._changed = asyncio.Event()
        self._marker: Hashable | None = None
        self._task: asyncio.Task[None] | None = None

    def ticket(self) -> asyncio.Event:
        """Return what `wait` waits on; take it BEFORE reading, so a commit in between still wakes you."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())
        return self._changed

    async def wait(self, ticket: asyncio.Event, timeout_s: float) -> None:
        """Return once the ledger changed after `ticket` was taken, or after `timeout_s`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ticket.wait(), timeout_s)

    async def _poll(self) -> None:
        while True:
            marker = await anyio.to_thread.run_sync(self._watch.marker)
            if marker != self._marker:
                self._marker = marker
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()
            await asyncio.sleep(self._poll_s)

    async def close(self) -> None:
        """Stop polling and close the watch's connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._watch.close()
