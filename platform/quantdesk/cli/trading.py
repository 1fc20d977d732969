"""`quantdesk order`, `orders`, `positions`, `cancel`, `reconcile`: manual trading through the one gate.

Orders and cancels go through the same `GatedBroker` as deployments (risk gate, ledger,
notifications, audit); `orders` and `positions` read the ledger only. The policy decides who
may act (`quantdesk user roles`): a registered, active trader or admin, and an order needs
their password too.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quantdesk.cli import app
from quantdesk.cli._auth import PasswordStdinOption, authorized_actor
from quantdesk.cli._common import JsonOption, console, emit, fail, handle_errors
from quantdesk.cli._notify import deliver_pending
from quantdesk.cli.tables import Col, WideOption, print_table
from quantdesk.core.display import number, quantity

VenueOption = Annotated[str, typer.Option("--venue", help="A venue name from quantdesk.toml (see `quantdesk venue list`).")]
AsOption = Annotated[
    str | None,
    typer.Option("--as", help="Act as this user (needs their password; default: QUANTDESK_USER, else the OS login)."),
]
_MANUAL = "manual"


def _authorized(actor: str | None, action: Any, password_stdin: bool) -> str:
    """Return who acts once the policy lets them, before anything reaches a venue (a refusal costs no request)."""
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        return authorized_actor(ledger, actor, action, password_stdin=password_stdin)


def _open_gated(venue_name: str, who: str) -> Any:
    """Build the gated broker for a configured venue as `who`: ccxt client, ledger, risk gate (no direct notifier)."""
    from quantdesk.broker.factory import open_gated

    return open_gated(venue_name, actor=who)


def _order_view(row: Any) -> dict[str, Any]:
    return {
        "client_order_id": row.client_order_id, "venue": row.venue, "symbol": row.symbol, "side": row.side,
        "type": row.order_type, "qty": row.qty, "price": row.price, "status": row.status,
        "filled_qty": row.filled_qty, "avg_price": row.avg_price, "venue_order_id": row.venue_order_id,
        "external": row.external, "deployment": row.deployment, "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _outcome_view(outcome: Any) -> dict[str, Any]:
    return {
        "client_order_id": outcome.client_order_id, "approved": outcome.approved, "code": outcome.code,
        "detail": outcome.detail, "status": outcome.status, "error": outcome.error,
        "order": None if outcome.order is None else _order_view(outcome.order),
    }


def _finish(outcome: Any, json_output: bool, what: str) -> None:
    view = _outcome_view(outcome)
    if json_output:
        emit(view)
    if not outcome.approved:
        raise fail(f"{what} denied by the risk gate: {outcome.code}: {outcome.detail}", 3)
    if outcome.error:
        raise fail(f"{what} {outcome.client_order_id} failed: {outcome.error}", 1)
    if not json_output:
        order = outcome.order
        filled = f", filled {order.filled_qty}" if order is not None and order.filled_qty else ""
        console.print(f"{what} {outcome.client_order_id}: {outcome.status}{filled}", highlight=False)


@app.command("order")
@handle_errors
def order_command(
    venue: VenueOption,
    symbol: Annotated[str, typer.Option("--symbol", help="Unified symbol, e.g. BTC/USDT.")],
    side: Annotated[str, typer.Option("--side", help="buy or sell.")],
    qty: Annotated[str, typer.Option("--qty", help="Base quantity, e.g. 0.01.")],
    order_type: Annotated[str, typer.Option("--type", help="market or limit.")] = "market",
    price: Annotated[str | None, typer.Option("--price", help="Limit price (required with --type limit).")] = None,
    actor: Annotated[str | None, typer.Option("--as", help="Trade as this user (default: QUANTDESK_USER, else the OS login).")] = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Place a manual order through the risk gate and the ledger (audited with you, notified).

    An order goes to a venue, so it needs the trading user's password (prompt or --password-stdin).
    Example: quantdesk order --venue binance-test --symbol BTC/USDT --side buy --qty 0.01 --type limit --price 30000
    """
    import uuid
    from decimal import Decimal, InvalidOperation

    from quantdesk.broker import derive_client_order_id
    from quantdesk.core.errors import ConfigError
    from quantdesk.core.orders import OrderIntent
    from quantdesk.core.types import OrderType, Side
    from quantdesk.identity.policy import Action

    try:
        side_value, type_value = Side(side.lower()), OrderType(order_type.lower())
        qty_value = Decimal(qty)
        price_value = None if price is None else Decimal(price)
    except (ValueError, InvalidOperation):
        raise ConfigError(
            f"bad order: side={side!r} type={order_type!r} qty={qty!r} price={price!r}; "
            "use --side buy|sell, --type market|limit and decimal numbers"
        ) from None
    if type_value is OrderType.LIMIT and price_value is None:
        raise ConfigError("a limit order needs --price")
    gated = _open_gated(venue, _authorized(actor, Action.ORDER, password_stdin))
    with gated.ledger:
        gated.start()
        intent = OrderIntent(
            client_order_id=derive_client_order_id(_MANUAL, uuid.uuid4().hex), deployment=_MANUAL, venue=venue,
            symbol=symbol, side=side_value, type=type_value, qty=qty_value, price=price_value, ts=gated.clock.now(),
        )
        outcome = gated.submit(intent)
    deliver_pending()
    _finish(outcome, json_output, "order")


@app.command("cancel")
@handle_errors
def cancel_command(
    client_order_id: Annotated[str, typer.Argument(help="The client order id (see `quantdesk orders`).")],
    venue: VenueOption,
    actor: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    json_output: JsonOption = False,
) -> None:
    """Cancel an order by client order id through the gate (allowed even when trading is halted).

    Example: quantdesk cancel qd-0123456789abcdef0123456789abcdef --venue binance-test
    """
    from quantdesk.identity.policy import Action

    gated = _open_gated(venue, _authorized(actor, Action.CANCEL, password_stdin))
    with gated.ledger:
        gated.start()
        outcome = gated.cancel(client_order_id)
    _finish(outcome, json_output, "cancel")


@app.command("orders")
@handle_errors
def orders_command(
    open_only: Annotated[bool, typer.Option("--open", help="Only orders still working or in flight.")] = False,
    venue: Annotated[str | None, typer.Option("--venue", help="Only this venue.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many (newest).")] = 50,
    json_output: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """List orders from the ledger (newest last).

    Example: quantdesk orders --open --json
    """
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        if open_only:
            rows = ledger.in_flight_orders(venue=venue) + ledger.open_orders(venue=venue)
            rows = sorted(rows, key=lambda r: r.created_at)[-limit:]
        else:
            rows = ledger.orders(venue=venue, limit=limit)
    views = [_order_view(r) for r in rows]
    if json_output:
        emit({"orders": views})
        return
    # the id is what `quantdesk cancel` takes: never truncate or drop it
    columns = [Col("client order id", 0), Col("symbol", 0), Col("side", 0), Col("qty", 0, "right"),
               Col("status", 0), Col("filled", 1, "right"), Col("price", 2, "right"), Col("type", 3),
               Col("venue", 3), Col("ext", 4)]
    rows = [[v["client_order_id"], v["symbol"], str(v["side"]), quantity(v["qty"]), str(v["status"]),
             quantity(v["filled_qty"]), number(v["price"], None), str(v["type"]), v["venue"], v["external"]]
            for v in views]
    print_table(console, columns, rows, wide=wide)


@app.command("positions")
@handle_errors
def positions_command(
    venue: Annotated[str | None, typer.Option("--venue", help="Only this venue.")] = None,
    json_output: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Show positions computed from the ledger's fills.

    Example: quantdesk positions --json
    """
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        rows = [p for p in ledger.positions(venue=venue) if p.qty != 0 or p.fill_count]
    if json_output:
        emit({"positions": rows})
        return
    columns = [Col("symbol", 0), Col("qty", 0, "right"), Col("cost", 1, "right"), Col("venue", 1),
               Col("fees", 2, "right"), Col("fills", 2, "right"), Col("account", 3)]
    print_table(console, columns, [[p.symbol, str(p.qty), str(p.cost), p.venue, str(p.fees), str(p.fill_count),
                                    p.account] for p in rows], wide=wide)


@app.command("reconcile")
@handle_errors
def reconcile_command(venue: VenueOption, actor: AsOption = None, password_stdin: PasswordStdinOption = False,
                      json_output: JsonOption = False) -> None:
    """Compare the ledger with the venue, adopt and correct what differs; fail if they still disagree.

    Example: quantdesk reconcile --venue binance-test --json
    """
    from quantdesk.core.errors import ReconciliationError
    from quantdesk.identity.policy import Action

    gated = _open_gated(venue, _authorized(actor, Action.RECONCILE, password_stdin))
    with gated.ledger:
        report = gated.reconcile()
    if json_output:
        emit(report)
    elif report.agreed:
        console.print(
            f"{venue}: ledger and venue agree ({len(report.adopted_orders)} adopted, "
            f"{len(report.corrected_orders)} corrected, {len(report.closed_orders)} closed, "
            f"{len(report.recorded_fills)} fills recorded, {report.open_orders} open)",
            highlight=False,
        )
    if not report.agreed:
        raise ReconciliationError(f"ledger and venue {venue!r} disagree: {'; '.join(report.unresolved[:3])}")
