"""`quantdesk arb scan|watch|triangles`: executable arbitrage from fresh order books (never an order sent).

Opportunities at or above `--min-edge-bps` are stored in the ledger (one row per episode) and
notified once while they last (`arb_opportunity`, through the outbox).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quantdesk.cli import app
from quantdesk.cli._common import JsonOption, console, emit, err_console, handle_errors
from quantdesk.cli.tables import Col, WideOption, print_table

arb_app = typer.Typer(help="Arbitrage: cross-venue and triangular spreads for a size, after depth, fees and "
                           "transfers (the scanner never sends orders).", no_args_is_help=True)
app.add_typer(arb_app, name="arb")

VenuesOption = Annotated[list[str], typer.Option("--venue", help="Venue (quantdesk.toml name or ccxt id); repeat.")]
SymbolsOption = Annotated[list[str], typer.Option("--symbol", help="Symbol to compare, e.g. BTC/USDT; repeat.")]
SizeOption = Annotated[str | None, typer.Option("--size", help="Size in the base asset, e.g. 0.5 (BTC).")]
SizeQuoteOption = Annotated[str | None, typer.Option("--size-quote", help="Size as quote spent on the buy, e.g. 1000.")]
MinEdgeOption = Annotated[float | None, typer.Option(
    "--min-edge-bps", help="Store and notify only edges at least this good (default [arb] min_edge_bps, else 0).")]
MaxAgeOption = Annotated[int | None, typer.Option(
    "--max-age-ms", help="Never price on a book older than this (default 1000).")]
RateOption = Annotated[list[str] | None, typer.Option(
    "--rate", help="Rate series MARKET@VENUE converting another quote, e.g. USDC/USDT@binance; repeat.")]
FeeOption = Annotated[list[str] | None, typer.Option(
    "--taker-fee-bps", help="VENUE=BPS overriding the market's taker fee; repeat.")]
TransferOption = Annotated[list[str] | None, typer.Option(
    "--transfer-cost", help="ASSET=FEE (or VENUE:ASSET=FEE) withdrawal fee where a venue reports none; repeat.")]
NoTransferOption = Annotated[bool, typer.Option(
    "--no-transfer", help="Charge no transfer cost (inventory is held on every venue).")]


def _config(min_edge_bps: float | None, max_age_ms: int | None, rate: list[str] | None, fee: list[str] | None,
            transfer: list[str] | None, no_transfer: bool) -> Any:
    from quantdesk.arb.config import ArbConfig

    return ArbConfig.load(min_edge_bps=min_edge_bps, max_age_ms=max_age_ms, rates=rate or [], taker_fee_bps=fee or [],
                          transfer_costs=transfer or [], include_transfer=False if no_transfer else None)


def _check_venues(venue: list[str], symbol: list[str]) -> None:
    from quantdesk.core.errors import ArbitrageError

    if len(venue) < 2:
        raise ArbitrageError(f"a cross-venue scan needs two or more --venue (got {len(venue)}); "
                             "for one venue's cycles use `quantdesk arb triangles`")
    if not symbol:
        raise ArbitrageError("name at least one --symbol, e.g. --symbol BTC/USDT")


def _store() -> Any:
    from quantdesk.ledger import Ledger
    from quantdesk.ledger.opportunities import LedgerOpportunities

    return LedgerOpportunities(Ledger())


def _print(report: Any, wide: bool, title: str) -> None:
    rows = []
    for o in report.opportunities:
        route = ", ".join(f"{leg.side.value} {leg.qty} {leg.symbol}@{leg.venue} at {leg.avg_price:.8g}" for leg in o.legs)
        rows.append([o.kind.value, route, f"{o.size} {o.size_currency}", f"{o.edge_bps:.2f}",
                     f"{o.profit_quote:.4f} {o.quote_currency}", f"{o.book_age_ms}",
                     "" if o.transfer_cost is None else f"{o.transfer_cost:.4f}"])
    if rows:
        print_table(console, [Col("kind", 1), Col("legs", 0), Col("size", 1), Col("edge bps", 0, "right"),
                              Col("profit", 0, "right"), Col("book age ms", 2, "right"), Col("transfer", 3, "right")],
                    rows, wide=wide, title=title)
    else:
        console.print("no opportunity at or above the threshold", highlight=False)
    found = {o.key for o in report.opportunities}
    for best in report.best:
        if best.key not in found:
            route = " → ".join(f"{leg.side.value} {leg.symbol}@{leg.venue}" for leg in best.legs)
            console.print(f"below the threshold: {route}: best {best.edge_bps:.2f} bps "
                          f"({best.profit_quote:.4f} {best.quote_currency})", highlight=False)
    for book in report.stale:
        console.print(f"stale: {book.venue} {book.symbol}: {book.reason}", highlight=False)
    for note in report.notes:
        console.print(f"note: {note}", style="dim", highlight=False)
    if report.opened:
        console.print(f"{len(report.opened)} new opportunit{'y' if len(report.opened) == 1 else 'ies'} stored and "
                      "notified (`quantdesk notify history`)", highlight=False)


@arb_app.command("scan")
@handle_errors
def arb_scan(
    venue: VenuesOption,
    symbol: SymbolsOption,
    size: SizeOption = None,
    size_quote: SizeQuoteOption = None,
    min_edge_bps: MinEdgeOption = None,
    max_age_ms: MaxAgeOption = None,
    rate: RateOption = None,
    taker_fee_bps: FeeOption = None,
    transfer_cost: TransferOption = None,
    no_transfer: NoTransferOption = False,
    json_output: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Price a size across venues once, on REST books fetched now; store and notify what beats the threshold.

    Example: quantdesk arb scan --venue sim-a --venue sim-b --symbol BTC/USDT --size 0.5 --json
    """
    from quantdesk.arb.service import scan_cross_venue, size_of
    from quantdesk.cli._notify import deliver_pending

    _check_venues(venue, symbol)
    chosen = size_of(size, size_quote)
    config = _config(min_edge_bps, max_age_ms, rate, taker_fee_bps, transfer_cost, no_transfer)
    store = _store()
    try:
        report = scan_cross_venue(venue, symbol, chosen, config, store=store)
    finally:
        store.ledger.close()
    if report.opened:
        deliver_pending()
    if json_output:
        emit(report.to_json())
    else:
        _print(report, wide, f"cross-venue, {chosen}")


@arb_app.command("watch")
@handle_errors
def arb_watch(
    venue: VenuesOption,
    symbol: SymbolsOption,
    size: SizeOption = None,
    size_quote: SizeQuoteOption = None,
    min_edge_bps: MinEdgeOption = None,
    max_age_ms: MaxAgeOption = None,
    duration_s: Annotated[float | None, typer.Option("--duration-s", help="Stop after this many seconds "
                                                                          "(default: until Ctrl-C).")] = None,
    source: Annotated[str, typer.Option("--source", help="auto (streams where the venue has them, else REST "
                                                         "polling), stream or rest.")] = "auto",
    rate: RateOption = None,
    taker_fee_bps: FeeOption = None,
    transfer_cost: TransferOption = None,
    no_transfer: NoTransferOption = False,
    json_output: JsonOption = False,
) -> None:
    """Follow the books and price each symbol on every update; print opportunities as they open and close.

    Example: quantdesk arb watch --venue binance --venue okx --symbol BTC/USDT --size 0.5 --min-edge-bps 5
    """
    from quantdesk.arb.service import BookSource, size_of, watch_cross_venue
    from quantdesk.cli._notify import deliver_pending
    from quantdesk.core.errors import ConfigError

    _check_venues(venue, symbol)
    if duration_s is not None and duration_s <= 0:
        raise ConfigError(f"--duration-s {duration_s} must be positive (or leave it out: until Ctrl-C)")
    try:
        book_source = BookSource(source)
    except ValueError:
        raise ConfigError(f"--source {source!r} is not auto, stream or rest") from None
    chosen = size_of(size, size_quote)
    config = _config(min_edge_bps, max_age_ms, rate, taker_fee_bps, transfer_cost, no_transfer)

    import threading

    wanted, done = threading.Event(), threading.Event()

    def deliver() -> None:  # off the scanning thread: a slow channel never delays a price
        while not done.is_set():
            if wanted.wait(0.5):
                wanted.clear()
                deliver_pending()

    courier = threading.Thread(target=deliver, name="arb-notify", daemon=True)
    courier.start()

    def show(kind: str, value: Any) -> None:
        if kind == "opened":
            wanted.set()
        if json_output or kind == "scan":
            return
        if kind == "opened":
            console.print(f"opened: {value.summary} (books {value.book_age_ms} ms old)", highlight=False)
        elif kind == "closed":
            console.print(f"closed: {value}", highlight=False)
        elif kind == "stale":
            err_console.print(f"stale: {value.venue} {value.symbol}: {value.reason}", highlight=False)
        else:
            err_console.print(f"fresh again: {value}", highlight=False)

    if not json_output:
        console.print(f"watching {', '.join(symbol)} on {', '.join(venue)} for {chosen} "
                      f"(min edge {config.min_edge_bps} bps; Ctrl-C stops)", highlight=False)
    store = _store()
    try:
        report = watch_cross_venue(venue, symbol, chosen, config, store=store, duration_s=duration_s,
                                   source=book_source, on_event=show)
    finally:
        done.set()
        courier.join(timeout=10)
        store.ledger.close()
    if report.opened:
        deliver_pending()
    if json_output:
        emit(report.to_json())
    else:
        console.print(f"{report.evaluations} evaluations, {len(report.opened)} opportunities opened, "
                      f"{len(report.closed)} closed", highlight=False)


@arb_app.command("triangles")
@handle_errors
def arb_triangles(
    venue: Annotated[str, typer.Option("--venue", help="Venue (quantdesk.toml name or ccxt id).")],
    size_quote: Annotated[str, typer.Option("--size-quote", help="Amount of the start currency, e.g. 1000.")],
    quote: Annotated[str | None, typer.Option("--quote", help="Start and end currency (default: the venue's "
                                                              "most common quote).")] = None,
    min_edge_bps: MinEdgeOption = None,
    max_age_ms: MaxAgeOption = None,
    candidates: Annotated[int, typer.Option("--candidates", help="Cycles priced with depth (the best at the "
                                                                 "top of the books).")] = 20,
    taker_fee_bps: FeeOption = None,
    json_output: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Find one venue's triangular cycles (negative cycles of −log(rate·(1 − fee))) and price them with depth.

    Example: quantdesk arb triangles --venue sim-c --size-quote 1000 --json
    """
    from quantdesk.arb.service import size_of
    from quantdesk.arb.triangle_scan import scan_triangles
    from quantdesk.cli._notify import deliver_pending
    from quantdesk.core.errors import ConfigError

    if candidates < 1:
        raise ConfigError(f"--candidates {candidates} must be at least 1")
    chosen = size_of(None, size_quote)
    config = _config(min_edge_bps, max_age_ms, None, taker_fee_bps, None, True)
    store = _store()
    try:
        report = scan_triangles(venue, chosen, config, start=quote, store=store, candidates=candidates)
    finally:
        store.ledger.close()
    if report.opened:
        deliver_pending()
    if json_output:
        emit(report.to_json())
    else:
        _print(report, wide, f"triangular on {venue}, {chosen.amount} {quote or ''}".strip())
