"""Target-percent market orders in numba, with vectorbt's exact arithmetic.

A port of the subset of `vectorbt.portfolio.nb.execute_order_nb` / `buy_nb` / `sell_nb`
that `Portfolio.from_orders(size_type="targetpercent")` uses with the engine's options
(no fixed fees, no cash locking, partial fills allowed, unlimited max size), step for
step so results agree to the last bit. Ported rather than called because importing
vectorbt costs many seconds, and a sweep needs only this. `tests/backtest/test_kernels.py`
checks it against vectorbt itself.

numba's on-disk cache of `kernels.py` embeds these inlined functions but watches only
`kernels.py`: after editing this file, touch `kernels.py` so stale compiled kernels reload.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["LONG_ONLY", "BOTH", "target_percent_order"]

LONG_ONLY = 0  # vectorbt Direction.LongOnly
BOTH = 2  # vectorbt Direction.Both

_REL_TOL = 1e-9  # vectorbt.utils.math_.rel_tol
_ABS_TOL = 1e-12  # vectorbt.utils.math_.abs_tol


@njit(cache=True, inline="always")
def _is_close(a: float, b: float) -> bool:
    if np.isnan(a) or np.isnan(b) or np.isinf(a) or np.isinf(b):
        return False
    if a == b:
        return True
    return abs(a - b) <= max(_REL_TOL * max(abs(a), abs(b)), _ABS_TOL)


@njit(cache=True, inline="always")
def _is_less(a: float, b: float) -> bool:
    if _is_close(a, b):
        return False
    return a < b


@njit(cache=True, inline="always")
def _add(a: float, b: float) -> float:
    zero = _is_close(abs(a), abs(b)) if np.sign(a) != np.sign(b) else _is_close(a + b, 0.0)
    return 0.0 if zero else a + b


@njit(cache=True, inline="always")
def _snap(x: float) -> float:
    return 0.0 if _is_close(x, 0.0) else x


@njit(cache=True, inline="always")
def _buy(cash, pos, debt, free, size, price, direction, fees, slippage, min_size, granularity):  # noqa: ANN001, ANN202
    adj_price = price * (1 + slippage)
    cash_limit = min(cash, cash)
    if cash_limit == 0:
        return False, cash, pos, debt, free, 0.0, 0.0, 0.0
    adj_size = size
    if adj_size == 0:
        return False, cash, pos, debt, free, 0.0, 0.0, 0.0
    if not np.isnan(granularity):
        adj_size = adj_size // granularity * granularity
    req_cash = adj_size * adj_price
    req_fees = req_cash * fees + 0.0
    total_req_cash = req_cash + req_fees
    if _is_close(total_req_cash, cash_limit) or total_req_cash < cash_limit:
        final_size = adj_size
        fees_paid = req_fees
        final_req_cash = total_req_cash
    else:
        max_req_cash = _add(cash_limit, -0.0) / (1 + fees)
        if max_req_cash <= 0:
            return False, cash, pos, debt, free, 0.0, 0.0, 0.0
        max_acq_size = max_req_cash / adj_price
        if not np.isnan(granularity):
            final_size = max_acq_size // granularity * granularity
            new_req_cash = final_size * adj_price
            fees_paid = new_req_cash * fees + 0.0
            final_req_cash = new_req_cash + fees_paid
        else:
            final_size = max_acq_size
            fees_paid = cash_limit - max_req_cash
            final_req_cash = cash_limit
    if _is_close(adj_size, 0.0):
        return False, cash, pos, debt, free, 0.0, 0.0, 0.0
    if _is_less(final_size, min_size):
        return False, cash, pos, debt, free, 0.0, 0.0, 0.0
    new_cash = _add(cash, -final_req_cash)
    new_pos = _add(pos, final_size)
    if pos < 0:
        short_size = final_size if new_pos < 0 else abs(pos)
        avg_entry_price = debt / abs(pos)
        debt_diff = short_size * avg_entry_price
        new_debt = _add(debt, -debt_diff)
        new_free = _add(free + 2 * debt_diff, -final_req_cash)
    else:
        new_debt = debt
        new_free = _add(free, -final_req_cash)
    return True, new_cash, new_pos, new_debt, new_free, final_size, adj_price, fees_paid


@njit(cache=True, inline="always")
def _sell(cash, pos, debt, free, size, price, direction, fees, slippage, min_size, granularity):  # noqa: ANN001, ANN202
    adj_price = price * (1 - slippage)
    if direction == LONG_ONLY:
        size_limit = min(pos, size)
        if pos == 0:
            return False, cash, pos, debt, free, 0.0, 0.0, 0.0
    else:
        size_limit = size
    if not np.isnan(granularity):
        size_limit = size_limit // granularity * granularity
    if _is_close(size_limit, 0.0):
        return False, cash, pos, debt, free, 0.0, 0.0, 0.0
    if _is_less(size_limit, min_size):
        return False, cash, pos, debt, free, 0.0, 0.0, 0.0
    acq_cash = size_limit * adj_price
    fees_paid = acq_cash * fees + 0.0
    final_acq_cash = _add(acq_cash, -fees_paid)
    if final_acq_cash < 0:
        return False, cash, pos, debt, free, 0.0, 0.0, 0.0
    new_cash = cash + final_acq_cash
    new_pos = _add(pos, -size_limit)
    if new_pos < 0:
        short_size = size_limit if pos < 0 else abs(new_pos)
        short_value = short_size * adj_price
        new_debt = debt + short_value
        new_free = _add(free, _add(final_acq_cash, -2 * short_value))
    else:
        new_debt = debt
        new_free = free + final_acq_cash
    return True, new_cash, new_pos, new_debt, new_free, size_limit, adj_price, fees_paid


_FAST_MIN = 1e-11  # above this no balance or size is snapped to zero (abs tol 1e-12)


@njit(cache=True, inline="always")
def _buy_from_flat(cash, free, target, price, fees, slippage, min_size):  # noqa: ANN001, ANN202
    """The general path's arithmetic for an all-cash account buying `target` x cash, minus its no-op checks.

    Only called where every snap and zero check of the general path is provably a no-op
    (cash, size and final size above `_FAST_MIN`, no debt, no lot step); returns ok=False
    when a guard fails so the caller takes the general path.
    """
    order_size = target
    order_size *= cash
    order_size /= price
    if not (order_size > _FAST_MIN and order_size < np.inf):
        return False, False, cash, 0.0, 0.0, free, 0.0, 0.0, 0.0
    adj_price = price * (1 + slippage)
    req_cash = order_size * adj_price
    req_fees = req_cash * fees + 0.0
    total_req_cash = req_cash + req_fees
    if _is_close(total_req_cash, cash) or total_req_cash < cash:
        final_size = order_size
        fees_paid = req_fees
        final_req_cash = total_req_cash
    else:
        max_req_cash = cash / (1 + fees)
        if max_req_cash <= 0:
            return False, False, cash, 0.0, 0.0, free, 0.0, 0.0, 0.0
        final_size = max_req_cash / adj_price
        fees_paid = cash - max_req_cash
        final_req_cash = cash
    if not final_size > _FAST_MIN:
        return False, False, cash, 0.0, 0.0, free, 0.0, 0.0, 0.0
    free = _snap(free)
    if _is_less(final_size, min_size):
        return True, False, cash, 0.0, 0.0, free, 0.0, 0.0, 0.0
    new_cash = _add(cash, -final_req_cash)
    return True, True, new_cash, final_size, 0.0, _add(free, -final_req_cash), final_size, adj_price, fees_paid


@njit(cache=True, inline="always")
def _sell_all(pos, free, price, fees, slippage, min_size):  # noqa: ANN001, ANN202
    """The general path's arithmetic for a fully invested long (no cash, no debt) going flat, minus no-ops."""
    if not pos * price > _FAST_MIN:
        return False, False, 0.0, pos, 0.0, free, 0.0, 0.0, 0.0
    free = _snap(free)
    if _is_less(pos, min_size):
        return True, False, 0.0, pos, 0.0, free, 0.0, 0.0, 0.0
    adj_price = price * (1 - slippage)
    acq_cash = pos * adj_price
    fees_paid = acq_cash * fees + 0.0
    final_acq_cash = _add(acq_cash, -fees_paid)
    if final_acq_cash < 0:
        return True, False, 0.0, pos, 0.0, free, 0.0, 0.0, 0.0
    return True, True, 0.0 + final_acq_cash, 0.0, 0.0, free + final_acq_cash, pos, adj_price, fees_paid


@njit(cache=True, inline="always")
def target_percent_order(cash, pos, debt, free, target, price, direction, fees, slippage, min_size, granularity):  # noqa: ANN001, ANN201
    """Trade towards `target` x equity at `price` (also the valuation price).

    Return (filled, cash, position, debt, free_cash, size, fill_price, fees) after the order.
    """
    # The two orders an all-in/all-out strategy places (buy from flat, sell everything) take a
    # short path with the same floating-point operations, in the same order, as the general one.
    if debt == 0.0 and np.isnan(granularity) and price > 0.0 and price < np.inf:
        if pos == 0.0 and target > 0.0 and target < np.inf and cash > _FAST_MIN and cash < np.inf:
            ok, filled, c, p, d, f, size, fill, fee_paid = _buy_from_flat(cash, free, target, price, fees,
                                                                          slippage, min_size)
            if ok:
                return filled, c, p, d, f, size, fill, fee_paid
        elif cash == 0.0 and target == 0.0 and pos > _FAST_MIN and pos < np.inf:
            ok, filled, c, p, d, f, size, fill, fee_paid = _sell_all(pos, free, price, fees, slippage, min_size)
            if ok:
                return filled, c, p, d, f, size, fill, fee_paid
    # from_orders values the portfolio before execute_order_nb snaps near-zero balances.
    value = cash
    if pos != 0:
        value += pos * price
    value = _snap(value)
    cash = _snap(cash)
    pos = _snap(pos)
    debt = _snap(debt)
    free = _snap(free)
    if np.isnan(target) or np.isnan(value) or value <= 0:
        return False, cash, pos, debt, free, 0.0, 0.0, 0.0
    order_size = target
    order_size *= value
    order_size /= price
    order_size -= pos
    if order_size > 0:
        return _buy(cash, pos, debt, free, order_size, price, direction, fees, slippage, min_size, granularity)
    return _sell(cash, pos, debt, free, -order_size, price, direction, fees, slippage, min_size, granularity)
