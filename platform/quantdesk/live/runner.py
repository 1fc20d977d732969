"""The live runner: on each bar close, target -> order intents -> gated broker -> ledger.

One bar (`Runner.step`): bring the candles up to date (the market's in-memory window),
compute `target()` on the trailing window with the backtest's Strategy class, size orders
against the deployment's book (ledger fills + capital) exactly as the backtest's vectorbt
does, send them through the `GatedBroker`, follow them to a final state, record progress,
then let the market write the new candles to the lake (`flush`). It fails closed: stale
or missing data, a raising strategy or a ledger/venue disagreement place no order, are
stored as a risk event, notified and audited. Client order ids come from
(deployment, bar, symbol), so a restarted runner that re-derives an intent reuses its id.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import polars as pl

from quantdesk.backtest.engine import resolve_strategy
from quantdesk.broker.types import derive_client_order_id
from quantdesk.core.clock import Clock
from quantdesk.core.costs import MarketRules
from quantdesk.core.errors import QuantdeskError, ReconciliationError, StrategyError
from quantdesk.core.orders import OrderIntent
from quantdesk.core.timeframes import timeframe_ms
from quantdesk.core.types import OrderType, Side
from quantdesk.live.futures_book import FuturesBook, size_perpetual
from quantdesk.live.perpetual_feed import PerpetualFeed, futures_book, settle_paper_bar
from quantdesk.live.schedule import BarScheduler
from quantdesk.live.sizing import Account, size_order, to_intent_qty
from quantdesk.live.spec import RunSpec
from quantdesk.metrics import record_candle_age, record_decision, record_position
from quantdesk.notify import Notification, NotificationLevel

__all__ = ["BarOutcome", "Runner", "SkipCode", "bar_client_order_id"]

log = logging.getLogger(__name__)


class SkipCode(StrEnum):
    """Why the runner placed no order for a bar (stored as the risk event code)."""

    STALE_DATA = "RUNNER_STALE_DATA"
    STRATEGY_ERROR = "RUNNER_STRATEGY_ERROR"
    RECONCILIATION = "RUNNER_RECONCILIATION_MISMATCH"
    CODE_CHANGED = "RUNNER_CODE_HASH_CHANGED"
    VENUE_ERROR = "RUNNER_VENUE_ERROR"


@dataclass(frozen=True, slots=True, kw_only=True)
class BarOutcome:
    """What the runner did at one bar close: targets, orders sent (gate outcomes), or why it skipped."""

    bar_ts: datetime
    targets: dict[str, float] = field(default_factory=dict)
    orders: tuple[Any, ...] = ()
    skipped: SkipCode | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.skipped is None


def bar_client_order_id(deployment: str, bar_ms: int, symbol: str) -> str:
    """Return the client order id of the order a deployment derives at one bar for one symbol."""
    return derive_client_order_id(deployment, f"bar:{bar_ms}:{symbol}")


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class Runner:
    """Run one deployment bar by bar through `gated` (a started-or-not `GatedBroker`).

    `market` supplies candles (`refresh(bar_ms)`, `window(bar_ms, bars)`); `pin_check`
    raises when the deployment's code hash no longer matches; `progress(**fields)` records
    last bar, PnL and state (the promotion registry's `record_runner_progress`).
    """

    def __init__(
        self,
        spec: RunSpec,
        *,
        ledger: Any,
        gated: Any,
        market: Any,
        clock: Clock,
        notifier: Any = None,
        pin_check: Callable[[], None] | None = None,
        progress: Callable[..., Any] | None = None,
        actor: str = "runner",
        reconcile_every_bar: bool = True,
        follow_timeout_s: float = 10.0,
        stale_retries: int = 3,
        stale_retry_s: float = 0.25,
        resync_tolerance: float = 0.01,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.spec = spec
        self.ledger = ledger
        self.gated = gated
        self._ml_artifact: str | None = None  # an ML strategy's model in use (audited when it changes)
        self.market = market
        self.clock = clock
        self.notifier = notifier
        self.pin_check = pin_check
        self.progress = progress
        self.actor = actor
        self.reconcile_every_bar = reconcile_every_bar
        self.follow_timeout_s = follow_timeout_s
        self.stale_retries = stale_retries
        self.stale_retry_s = stale_retry_s
        self.resync_tolerance = resync_tolerance
        self._sleep = sleep
        self.step_ms = timeframe_ms(spec.timeframe)
        self.strategy, _ = resolve_strategy(spec.strategy, dict(spec.params))
        warmup = int(self.strategy.warmup)
        self.window_bars = int(spec.window_bars or max(2 * warmup + 10, 50))
        self.rules = {s: spec.rules.get(s, MarketRules()) for s in spec.symbols}
        self.last_bar_ms: int | None = None
        self.started = False
        # live bar closes (run()) record metrics; a replay's steps on a simulated clock do not
        self.record_metrics = False
        self._book_cache: tuple[tuple[datetime, int], int, Account] | None = None
        lake = getattr(market, "lake", None)  # a perpetual's funding and marks come from the market's lake
        self._perpetual_feed = None if lake is None or spec.market != "futures" else PerpetualFeed(
            lake, exchange=spec.data_exchange, symbol=spec.symbols[0], timeframe=spec.timeframe)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Any:
        """Check the code pin, then reconcile with the venue before anything else; fail closed."""
        if self.pin_check is not None:
            try:
                self.pin_check()
            except QuantdeskError as e:
                self._fail_closed(SkipCode.CODE_CHANGED, str(e), None)
                raise
        try:
            report = self.gated.start()
        except ReconciliationError as e:
            self._fail_closed(SkipCode.RECONCILIATION, str(e), None)
            raise
        self.started = True
        self.ledger.audit(self.actor, "runner.start", {"deployment": self.spec.name, "venue": self.spec.venue})
        return report

    def run(self, *, once: bool = False, stop: threading.Event | None = None,
            scheduler: BarScheduler | None = None, resume_after_ms: int | None = None,
            on_bar: Callable[[BarOutcome], None] | None = None) -> list[BarOutcome]:
        """Process each new bar close until `stop` is set (the current bar finishes first).

        `once`: only the newest closed bar. `resume_after_ms`: the last bar processed before a
        restart (it is not processed again). Call `start()` first (or let this call it).
        """
        if not self.started:
            self.start()
        self.record_metrics = True
        scheduler = scheduler or BarScheduler(self.clock, self.spec.timeframe, sleep=self._sleep)
        outcomes: list[BarOutcome] = []
        after = resume_after_ms
        while stop is None or not stop.is_set():
            bar_ms = scheduler.last_closed() if once else scheduler.wait_after(after, stop)
            if bar_ms is None:
                break
            if after is None or bar_ms > after:
                outcome = self.step(bar_ms)
                outcomes.append(outcome)
                if on_bar is not None:
                    on_bar(outcome)
                after = bar_ms
            if once:
                break
        return outcomes

    # -- one bar -----------------------------------------------------------------------------
    def step(self, bar_ms: int, *, prices: dict[str, float] | None = None, account: Account | None = None,
             trade: bool = True, continuous: bool = False) -> BarOutcome:
        """Decide and trade at the close of the bar opened at `bar_ms`.

        Orders are sized at `prices` (default: this bar's closes, the best live estimate of
        the next open; a replay passes the next bar's opens, where the backtest fills) against
        `account` (default: the deployment's book from the ledger). `trade=False` decides only.
        `continuous`: the previous step was the previous row of history even across a data gap
        (a replay); live, a bar after a gap or a restart re-syncs the book with the target.
        """
        try:
            return self._step(bar_ms, prices=prices, account=account, trade=trade, continuous=continuous)
        finally:
            flush = getattr(self.market, "flush", None)
            if flush is not None:  # new candles reach the lake after the orders are out, not before
                flush()

    def _step(self, bar_ms: int, *, prices: dict[str, float] | None, account: Account | None, trade: bool,
              continuous: bool) -> BarOutcome:
        bar_ts = _dt(bar_ms)
        if self.pin_check is not None:
            try:
                self.pin_check()
            except QuantdeskError as e:
                return self._fail_closed(SkipCode.CODE_CHANGED, str(e), bar_ts)
        # the venue may publish a closed bar a moment late: retry a few times before failing closed
        retries = self.stale_retries if getattr(self.market, "updater", None) is not None else 0
        for attempt in range(retries + 1):
            try:
                self.market.refresh(bar_ms)
            except QuantdeskError as e:
                log.warning("refreshing candles failed: %s", e)  # the staleness check below decides
            frames = self.market.window(bar_ms, self.window_bars)
            stale = [s for s, f in frames.items() if f.is_empty() or _last_ms(f) != bar_ms]
            if not stale or attempt == retries:
                break
            self._sleep(self.stale_retry_s)
        if self.record_metrics:
            self._record_candle_ages(frames)
        if stale:
            have = {s: (None if frames[s].is_empty() else _dt(_last_ms(frames[s])).isoformat()) for s in stale}
            return self._fail_closed(SkipCode.STALE_DATA,
                                     f"no candle for bar {bar_ts.isoformat()} of {stale} (newest: {have})", bar_ts)
        if self.spec.market == "futures":
            self._settle_perpetual(bar_ms)
        n = min(len(f) for f in frames.values())
        if any(len(f) != n for f in frames.values()):
            frames = {s: f.tail(n) for s, f in frames.items()}
        try:
            current, previous = self._last_targets(frames, n)
        except Exception as e:  # noqa: BLE001 - any strategy failure must fail closed, not crash the loop
            return self._fail_closed(SkipCode.STRATEGY_ERROR, f"{self.strategy.name}.target raised "
                                     f"{type(e).__name__}: {e}", bar_ts)
        resync = self.last_bar_ms is None or (not continuous and self.last_bar_ms != bar_ms - self.step_ms)
        if self.spec.rebalance or previous is None or resync:
            changed = dict(current)
        else:  # as the backtest: a symbol trades only when its target moved
            changed = {s: v for s, v in current.items() if v != previous[s]}
        closes = {s: float(frames[s]["close"][-1]) for s in self.spec.symbols}
        prices = prices or closes
        outcomes: tuple[Any, ...] = ()
        if changed and trade:
            try:
                if self.reconcile_every_bar:  # before trading, the ledger must still agree with the venue
                    report = self.gated.reconcile()
                    if not report.agreed:
                        return self._fail_closed(SkipCode.RECONCILIATION, "; ".join(report.unresolved[:3]), bar_ts)
                view = None
                if account is None:
                    account, view = self._book_and_view(bar_ms, changed)
                tolerance = self.resync_tolerance if (resync and previous is not None and current == previous) else 0.0
                outcomes = tuple(self.execute(bar_ms, changed, prices, account, tolerance=tolerance, follow=True,
                                              view=view))
            except QuantdeskError as e:
                return self._fail_closed(SkipCode.VENUE_ERROR, f"{type(e).__name__}: {e}", bar_ts)
        self.last_bar_ms = bar_ms
        self._record_progress(bar_ts, closes)
        return BarOutcome(bar_ts=bar_ts, targets=current, orders=outcomes)

    def _last_targets(self, frames: dict[str, Any], n: int) -> tuple[dict[str, float], dict[str, float] | None]:
        """Return the targets at this bar and the bar before, checked as the backtest checks them.

        Only the last two values matter here, so only they are converted (`target_matrix`
        converts the whole column, which costs more than the decision itself on long windows).
        """
        strategy, symbols = self.strategy, self.spec.symbols
        if strategy.multi_asset:
            out = strategy.target(frames)
            if isinstance(out, pl.DataFrame):
                out = {c: out[c] for c in out.columns}
            if not isinstance(out, dict) or any(s not in out for s in symbols):
                raise StrategyError(f"{strategy.name} is multi-asset and must return a target series per symbol")
            columns = [out[s] for s in symbols]
        else:
            if len(symbols) != 1:
                raise StrategyError(f"{strategy.name} is single-asset; give it one symbol, not {list(symbols)}")
            columns = [strategy.target(frames[symbols[0]])]
        self._audit_model(strategy, frames[symbols[0]] if not strategy.multi_asset else next(iter(frames.values())))
        last: list[list[float]] = []
        for symbol, column in zip(symbols, columns, strict=True):
            series = column if isinstance(column, pl.Series) else pl.Series(column)
            if len(series) != n:
                raise StrategyError(f"{strategy.name} returned {len(series)} targets for {n} bars of {symbol}")
            values = [0.0 if v is None else float(v) for v in series.tail(2).to_list()]
            for v in values:
                if math.isnan(v) or abs(v) > 1.0 + 1e-12:
                    raise StrategyError(f"{strategy.name} returned target {v} for {symbol}; give a number in [-1, 1]")
            if not self.spec.allow_short:
                values = [min(max(v, 0.0), 1.0) for v in values]
            last.append(values)
        current = {s: v[-1] for s, v in zip(symbols, last, strict=True)}
        previous = {s: v[-2] for s, v in zip(symbols, last, strict=True)} if n >= 2 else None
        return current, previous

    def _audit_model(self, strategy: Any, candles: Any) -> None:
        """An ML strategy (quantdesk.ml) retrains by its backtest's rule inside target(); audit each new
        model with its artifact hash and training window, so the ledger says which model traded when."""
        trainings = getattr(strategy, "trainings", None)
        if not trainings or trainings[-1].artifact == self._ml_artifact:
            return
        t = trainings[-1]
        ts = candles["ts"]
        self.ledger.audit(self.actor, "ml.retrain", {
            "deployment": self.spec.name, "artifact": t.artifact, "retrained_at_ts": str(ts[t.bar]),
            "first_sample_ts": str(ts[t.first_sample]), "last_sample_ts": str(ts[t.last_sample]),
            "samples": t.samples, "previous": self._ml_artifact})
        self._ml_artifact = t.artifact

    def execute(self, bar_ms: int, targets: dict[str, float], prices: dict[str, float], account: Account,
                *, tolerance: float = 0.0, follow: bool = False, view: Any = None) -> list[Any]:
        """Size and send the orders that move `account` to `targets` at `prices`; book fills into it.

        `prices` covers every symbol (equity is marked with all of them, once, before the
        orders); `targets` only the symbols to trade. With several symbols sells go first,
        as in the backtest's cash-sharing group, and each order is sized on the cash left.
        `view`: the gated broker's pre-trade read for the first order, read with the book.
        """
        value = account.value(prices)
        symbols = [s for s in self.spec.symbols if s in targets]
        if len(symbols) > 1:
            symbols.sort(key=lambda s: targets[s] * value - account.position(s) * prices[s])
        feed = getattr(self.gated.broker, "update_price", None)
        outcomes = []
        for symbol in symbols:
            if self.spec.market == "futures":  # a perpetual: the futures backtest's sizing on its book
                order = size_perpetual(symbol=symbol, target=targets[symbol], book=account, price=prices[symbol],
                                       rules=self.rules[symbol], allow_short=self.spec.allow_short)
            else:
                order = size_order(symbol=symbol, target=targets[symbol], position=account.position(symbol),
                                   cash=account.cash, value=value, price=prices[symbol], cost=self.spec.cost,
                                   rules=self.rules[symbol], allow_short=self.spec.allow_short)
            if not order.is_order or abs(order.qty) * order.price < tolerance * value:
                continue
            if feed is not None:
                feed(symbol, prices[symbol])
            intent = OrderIntent(
                client_order_id=bar_client_order_id(self.spec.name, bar_ms, symbol),
                deployment=self.spec.name, venue=self.spec.venue, symbol=symbol,
                side=Side.BUY if order.qty > 0 else Side.SELL, type=OrderType.MARKET,
                qty=to_intent_qty(order.qty, self.rules[symbol]), ts=self.clock.now(),
            )
            if self.record_metrics:  # bar close -> order handed to the gate
                record_decision(deployment=self.spec.name,
                                seconds=(self.clock.now() - _dt(bar_ms + self.step_ms)).total_seconds())
            outcome = self.gated.submit(intent, view=view)
            view = None  # written since: later orders read afresh
            if follow and outcome.approved and outcome.code != "ALREADY_SUBMITTED":
                outcome = self._follow(outcome)
            if outcome.approved and outcome.code != "ALREADY_SUBMITTED":
                self._book(account, intent.client_order_id, sized=order.qty, qty=intent.qty,
                           fills=getattr(outcome, "fills", ()))
            outcomes.append(outcome)
        return outcomes

    # -- book keeping --------------------------------------------------------------------------
    def account(self) -> Any:
        """Return the deployment's book from the ledger: capital plus every fill of its orders.

        A futures deployment's book also pays every funding settlement since its first fill
        (from the lake, `live.perpetual_feed`), in time order with the fills, and loses the
        margin of a position the venue liquidated (its `autoclose-` fill).
        """
        where = dict(venue=self.spec.venue, account=self.spec.account, deployment=self.spec.name)
        if self.spec.market == "futures":
            # the venue's liquidations are its own orders (no deployment of ours): take the
            # account's autoclose fills of our contract with the deployment's fills
            mine = self.ledger.fills(**where)
            known = {f.id for f in mine}
            closes = [f for f in self.ledger.fills(venue=self.spec.venue, account=self.spec.account,
                                                   symbol=self.spec.symbols[0])
                      if (f.client_order_id or "").startswith("autoclose-") and f.id not in known]
            return self._futures_account(sorted(mine + closes, key=lambda f: (f.ts, f.id)))
        cached = self._book_cache
        if cached is not None:
            # only fills stored since the last read, applied in the same (ts, id) order as a full
            # read would; a late fill with an earlier trade time makes it read in full again
            last_key, max_id, book = cached
            new = self.ledger.fills(**where, after_id=max_id)
            if not new or (new[0].ts, new[0].id) > last_key:
                return self._apply_fills(_copy(book), new, cached)
        # only this deployment's fills, selected in the database (not every fill of the venue)
        return self._apply_fills(self._new_book(), self.ledger.fills(**where), None)

    def _book_and_view(self, bar_ms: int, changed: dict[str, float]) -> tuple[Account, Any]:
        """Return the book and, for a one-order bar, the gated broker's pre-trade read, in one transaction.

        The runner already holds its book up to a fill id; the new fills come with the gate's
        reads (`Ledger.pretrade`), so the decision opens one read transaction, not two.
        """
        cached, pretrade = self._book_cache, getattr(self.ledger, "pretrade", None)
        if cached is None or pretrade is None or len(changed) != 1 or self.spec.market == "futures":
            return self.account(), None
        last_key, max_id, book = cached
        symbol = next(iter(changed))
        view = pretrade(bar_client_order_id(self.spec.name, bar_ms, symbol), venue=self.spec.venue,
                        account=self.spec.account, deployment=self.spec.name, fills_after_id=max_id)
        new = view.fills or []
        if new and (new[0].ts, new[0].id) <= last_key:  # a late fill: the book is read in full, as account()
            return self.account(), None
        return self._apply_fills(_copy(book), new, cached), view

    def _settle_perpetual(self, bar_ms: int) -> None:
        feed = self._perpetual_feed
        if feed is not None:
            settle_paper_bar(feed, self.gated, self.spec.symbols[0], bar_ms)

    def _futures_account(self, fills: list[Any]) -> FuturesBook:
        feed = self._perpetual_feed
        settlements = []
        if feed is not None and fills:
            step = self.step_ms
            first = min(int(f.ts.timestamp() * 1000) for f in fills) // step * step
            settlements = feed.settlements(first, self.clock.now_ms() // step * step)  # bars closed by now
        return futures_book(fills, settlements, capital=float(self.spec.capital),
                            leverage=float(self.spec.leverage), symbol=self.spec.symbols[0])

    def _new_book(self) -> Account:
        """A spot deployment's empty book: capital as cash (a perpetual's book is `_futures_account`)."""
        return Account(cash=float(self.spec.capital))

    def _apply_fills(self, account: Account, fills: list[Any], cached: Any) -> Account:
        for fill in fills:
            account.apply_fill(fill.symbol, float(fill.signed_qty), float(fill.price), float(fill.fee))
        # fill ids follow commit order only on SQLite (one writer); elsewhere read in full each time
        if getattr(self.ledger, "dialect", None) == "sqlite":
            last_key, max_id = cached[:2] if cached is not None else ((datetime.min.replace(tzinfo=UTC), 0), 0)
            if fills:
                last_key, max_id = (fills[-1].ts, fills[-1].id), max(max_id, max(f.id for f in fills))
            self._book_cache = (last_key, max_id, _copy(account))
        return account

    def _book(self, account: Account, client_order_id: str, *, sized: float, qty: Any, fills: Any = ()) -> None:
        # the fills the gated broker recorded with the answer, else (a venue that reports them
        # later, a followed order) what the ledger holds for the order
        fills = list(fills) or self.ledger.fills(client_order_id=client_order_id)
        if len(fills) == 1 and fills[0].qty == qty:
            # filled in full: book the float size itself, so the float book follows vectorbt's bit for bit
            f = fills[0]
            account.apply_fill(f.symbol, sized, float(f.price), float(f.fee))
            return
        for f in fills:
            account.apply_fill(f.symbol, float(f.signed_qty), float(f.price), float(f.fee))

    def _follow(self, outcome: Any) -> Any:
        """Poll until the order is final (market orders fill at once; a venue may lag)."""
        deadline = time.monotonic() + self.follow_timeout_s
        row, polled = outcome.order, False
        while (row is None or not row.status.is_final) and time.monotonic() < deadline:
            self._sleep(0.05)
            self.gated.reconcile()
            row, polled = self.ledger.order(outcome.client_order_id), True
        if row is None or not row.status.is_final:
            self._alert(NotificationLevel.WARNING, f"order {outcome.client_order_id} not final",
                        f"still {None if row is None else row.status} after {self.follow_timeout_s}s; "
                        "reconciliation will resolve it")
            return outcome
        from dataclasses import replace

        # fills that came after the answer are in the ledger, not in the outcome: book from there
        if polled and hasattr(outcome, "fills"):
            return replace(outcome, status=row.status, order=row, fills=())
        return replace(outcome, status=row.status, order=row)

    def _record_progress(self, bar_ts: datetime, prices: dict[str, float], state: str | None = None,
                         detail: str | None = None) -> None:
        if self.progress is None:
            return
        try:
            book = self.account()
            if self.record_metrics and prices:
                record_position(deployment=self.spec.name, equity=book.value(prices),
                                notional={s: book.position(s) * prices[s] for s in self.spec.symbols if s in prices})
            pnl = book.value(prices) - float(self.spec.capital) if prices else None
            self.progress(last_bar_ts=bar_ts, pnl=None if pnl is None else round(pnl, 8), state=state, detail=detail)
        except QuantdeskError as e:
            log.warning("recording progress of %s failed: %s", self.spec.name, e)

    def _record_candle_ages(self, frames: dict[str, Any]) -> None:
        """Set each series' candle age: now minus the newest candle's close (no candle: not set)."""
        now = self.clock.now()
        for symbol, frame in frames.items():
            if not frame.is_empty():
                record_candle_age(exchange=self.spec.data_exchange, symbol=symbol, timeframe=self.spec.timeframe,
                                  seconds=(now - _dt(_last_ms(frame) + self.step_ms)).total_seconds())

    def _fail_closed(self, code: SkipCode, detail: str, bar_ts: datetime | None) -> BarOutcome:
        """Place nothing; store, audit and notify why."""
        where = f" at bar {bar_ts.isoformat()}" if bar_ts is not None else " at start"
        log.warning("%s%s: %s: %s", self.spec.name, where, code, detail)
        self.ledger.record_risk_event(code=str(code), detail=detail, deployment=self.spec.name,
                                      venue=self.spec.venue, approved=False)
        self.ledger.audit(self.actor, "runner.skip", {"deployment": self.spec.name, "code": str(code),
                                                      "detail": detail,
                                                      "bar_ts": None if bar_ts is None else bar_ts.isoformat()})
        self._alert(NotificationLevel.ERROR, f"{self.spec.name}: no orders{where} ({code})", detail)
        return BarOutcome(bar_ts=bar_ts or self.clock.now(), skipped=code, detail=detail)

    def _alert(self, level: NotificationLevel, title: str, body: str) -> None:
        if self.notifier is not None:
            self.notifier.notify(Notification(level=level, title=title, body=body))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _last_ms(frame: Any) -> int:
    # the last value only, in Python: polars casts of the column cost more than the whole check
    last = frame.get_column("ts")[-1]
    if last.tzinfo is None:  # the candle contract says UTC
        last = last.replace(tzinfo=UTC)
    return (last - _EPOCH) // _MS


def _copy(book: Account) -> Account:
    """Return an independent copy of a spot book (the cache keeps one the next bar starts from)."""
    return Account(cash=book.cash, positions=dict(book.positions))
