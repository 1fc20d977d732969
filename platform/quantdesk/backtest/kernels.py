"""Fused numba sweep kernels: signal, portfolio and metrics in one pass per combination.

The fast path of `quantdesk.backtest.sweep`. For a moving-average crossover the
moving average of every distinct window is computed once (with the same indicator
function the strategy uses, so the signal is bit-identical) and combinations index
into that table. Bars are processed in cache-sized segments: a group of combinations
walks one segment while its moving averages are still in cache, and each combination
carries its state (cash, position, running sums) across segments. Orders follow
vectorbt's order arithmetic step for step (`kernel_orders`), so fills, fees, slippage
and lot steps are exactly those of `Portfolio.from_orders(size=target shifted one bar, size_type='targetpercent',
price=open)`; equity is marked at each bar's close.

Metric definitions are those of `quantdesk.backtest.metrics` (the single source); the
kernel accumulates the sums they need so no per-combination matrix is materialised.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from quantdesk.backtest.kernel_metrics import finalize_metrics
from quantdesk.backtest.kernel_orders import BOTH, LONG_ONLY, target_percent_order
from quantdesk.backtest.kernel_state import (
    _CASH,
    _DEBT,
    _EXPO,
    _FEES,
    _FREE,
    _GROSS_L,
    _GROSS_P,
    _HELD,
    _MDD,
    _MDD_DUR,
    _N_OBS,
    _N_STATE,
    _NOTIONAL,
    _PEAK,
    _PEAK_T,
    _PENDING,
    _POS,
    _PREV_EQ,
    _SUM_D2,
    _SUM_R,
    _SUM_R2,
    _TRADE_PNL,
    _TRADES,
    _WINS,
    METRIC_NAMES,
)

__all__ = [
    "METRIC_NAMES",
    "finalize_metrics",
    "ma_cross_equity",
    "ma_cross_sweep",
    "segment_bounds",
]

_DIRECTION = {"longonly": LONG_ONLY, "both": BOTH}


def segment_bounds(n_bars: int, n_blocks: int, segment_bars: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Return bar segment bounds (cache blocks) and, per segment, its CSCV block index.

    CSCV blocks are `n_blocks` even slices of the bars; every segment lies inside one
    block so per-block return sums come out of the same pass.
    """
    block_edges = [(n_bars * k) // n_blocks for k in range(n_blocks + 1)]
    bounds: list[int] = [0]
    blocks: list[int] = []
    for k in range(n_blocks):
        a, b = block_edges[k], block_edges[k + 1]
        t = a
        while t < b:
            t = min(t + segment_bars, b)
            bounds.append(t)
            blocks.append(k)
    return np.asarray(bounds, dtype=np.int64), np.asarray(blocks, dtype=np.int64)


@njit(cache=True, inline="always")
def _execute(state, target, price, fee, slippage, min_size, granularity, direction):  # noqa: ANN001, ANN202
    """Trade towards `target` (fraction of equity) at `price` exactly as vectorbt's from_orders does."""
    cash = state[_CASH]
    pos = state[_POS]
    filled, new_cash, new_pos, new_debt, new_free, size, fill_price, fees = target_percent_order(
        cash, pos, state[_DEBT], state[_FREE], target, price, direction, fee, slippage, min_size, granularity
    )
    if not filled:
        # vectorbt keeps the (near-zero snapped) balances of an unfilled order too.
        state[_CASH] = new_cash
        state[_POS] = new_pos
        state[_DEBT] = new_debt
        state[_FREE] = new_free
        return
    dcash = new_cash - cash
    state[_FEES] += fees
    state[_NOTIONAL] += size * fill_price
    # A flip closes one round trip and opens another; split the cash flow by size.
    if pos != 0 and (new_pos == 0 or (new_pos > 0) != (pos > 0)):
        closing = abs(pos) / size if new_pos != 0 else 1.0
        pnl = state[_TRADE_PNL] + dcash * closing
        state[_TRADES] += 1.0
        # Branch-free: whether a trade wins is a coin toss the CPU cannot predict.
        win = pnl > 0
        state[_WINS] += 1.0 if win else 0.0
        state[_GROSS_P] += pnl if win else 0.0
        state[_GROSS_L] -= 0.0 if win else pnl
        state[_TRADE_PNL] = dcash * (1.0 - closing)
    elif pos == 0:
        state[_TRADE_PNL] = dcash
    else:
        state[_TRADE_PNL] += dcash
    state[_CASH] = new_cash
    state[_POS] = new_pos
    state[_DEBT] = new_debt
    state[_FREE] = new_free


@njit(cache=True, inline="always")
def _signal(ma_fast, ma_slow, t, start, hi, lo):  # noqa: ANN001, ANN202
    """The target decided at bar t's close: `hi` when fast > slow, `lo` when fast < slow, else 0.

    Without a slow row (length 0) `ma_fast` is a precomputed target column (any strategy's
    targets), read as it is: the same loop then runs the generic target-matrix sweep.
    """
    if ma_slow.shape[0] == 0:
        return ma_fast[t]
    if t < start:
        return 0.0
    f = ma_fast[t]
    s = ma_slow[t]
    # NaN (warm-up) compares false both ways and gives 0, as the strategies' fill_null(0) does.
    if f > s:
        return hi
    if f < s:
        return lo
    return 0.0


@njit(cache=True)
def _ma_cross_segment(  # noqa: PLR0913, C901
    state, open_, close, ma_fast, ma_slow, start, hi, lo, a, b,
    fee, slippage, min_size, granularity, direction, rebalance, equity_out, prefix,
):  # noqa: ANN001, ANN202
    """Advance one combination over bars [a, b); return (sum r, sum r^2) of the segment.

    While a fully invested position is held (cash exactly 0, no order this bar) the bar
    return is the close-to-close return, shared by all combinations: its sums over the
    span come from `prefix` (cumulative r, r^2, min(r, 0)^2), so the per-bar work is one
    multiply, the drawdown compares and the signal compare, with no division.
    """
    pending = state[_PENDING]
    held = state[_HELD]
    prev_eq = state[_PREV_EQ]
    peak = state[_PEAK]
    peak_t = state[_PEAK_T]
    mdd = state[_MDD]
    mdd_dur = state[_MDD_DUR]
    sum_r = 0.0
    sum_r2 = 0.0
    sum_d2 = 0.0
    expo = 0.0
    cash = state[_CASH]
    pos = state[_POS]
    dd_floor = peak * (1.0 + mdd)
    record = equity_out.shape[0] > 0
    t = a
    while t < b:
        traded = False
        if t > 0 and (pending != held or (rebalance and not math.isnan(pending))):
            held = pending
            _execute(state, pending, open_[t], fee, slippage, min_size, granularity, direction)
            cash = state[_CASH]
            pos = state[_POS]
            traded = True
        if pos != 0 and cash == 0.0 and not traded and not rebalance:
            # Fast span: same position, equity = pos * close, returns from the shared prefix sums.
            u = t
            # The lowest equity since the last peak, kept branch-free (new lows come at random,
            # a branch per low would be mispredicted); it deepens the drawdown at the next peak
            # or at the span's end.
            low = math.inf
            while u < b:
                eq = pos * close[u]
                if eq >= peak:
                    if low < dd_floor:
                        mdd = low / peak - 1.0
                    low = math.inf
                    if u - peak_t > mdd_dur and u - peak_t > 1:
                        mdd_dur = u - peak_t
                    peak = eq
                    peak_t = u
                    dd_floor = peak * (1.0 + mdd)
                low = min(low, eq)
                if record:
                    equity_out[u] = eq
                pending = _signal(ma_fast, ma_slow, u, start, hi, lo)
                u += 1
                if pending != held:
                    break
            if low < dd_floor:
                mdd = low / peak - 1.0
                dd_floor = peak * (1.0 + mdd)
            sum_r += prefix[0, u] - prefix[0, t]
            sum_r2 += prefix[1, u] - prefix[1, t]
            sum_d2 += prefix[2, u] - prefix[2, t]
            expo += u - t
            prev_eq = pos * close[u - 1]
            t = u
            continue
        if pos == 0 and not traded and not rebalance and t > 0:
            # Flat span: equity stays `cash` (== prev_eq), returns are 0; only the signal moves.
            u = t
            while u < b:
                pending = _signal(ma_fast, ma_slow, u, start, hi, lo)
                u += 1
                if pending != held:
                    break
            if cash >= peak:
                # Every flat bar sits at the peak; the first may end a drawdown.
                if t - peak_t > mdd_dur and t - peak_t > 1:
                    mdd_dur = t - peak_t
                peak = cash
                peak_t = u - 1
                dd_floor = peak * (1.0 + mdd)
            if record:
                equity_out[t:u] = cash
            prev_eq = cash
            t = u
            continue
        if pos != 0:
            eq = cash + pos * close[t]
            expo += 1.0
            r = eq / prev_eq - 1.0
            sum_r += r
            sum_r2 += r * r
            d = min(r, 0.0)
            sum_d2 += d * d
            prev_eq = eq
        else:
            # Flat: equity is cash; the return is zero except right after a position closed.
            eq = cash
            if eq != prev_eq:
                r = eq / prev_eq - 1.0
                sum_r += r
                sum_r2 += r * r
                d = min(r, 0.0)
                sum_d2 += d * d
                prev_eq = eq
        if eq >= peak:
            # A peak right after a peak is no drawdown (span 1); only recoveries count.
            if t - peak_t > mdd_dur and t - peak_t > 1:
                mdd_dur = t - peak_t
            peak = eq
            peak_t = t
            dd_floor = peak * (1.0 + mdd)
        elif eq < dd_floor:
            mdd = eq / peak - 1.0
            dd_floor = peak * (1.0 + mdd)
        if record:
            equity_out[t] = eq
        pending = _signal(ma_fast, ma_slow, t, start, hi, lo)
        t += 1
    state[_PENDING] = pending
    state[_HELD] = held
    state[_PREV_EQ] = prev_eq
    state[_PEAK] = peak
    state[_PEAK_T] = peak_t
    state[_MDD] = mdd
    state[_MDD_DUR] = mdd_dur
    state[_SUM_R] += sum_r
    state[_SUM_R2] += sum_r2
    state[_SUM_D2] += sum_d2
    state[_N_OBS] += b - a
    state[_EXPO] += expo
    return sum_r, sum_r2


@njit(cache=True)
def _return_prefix(close):  # noqa: ANN001, ANN202
    """Return (3, n+1) prefix sums of close-to-close returns r, r^2 and min(r, 0)^2."""
    n = close.shape[0]
    out = np.zeros((3, n + 1))
    for t in range(1, n):
        r = close[t] / close[t - 1] - 1.0
        d = min(r, 0.0)
        out[0, t + 1] = out[0, t] + r
        out[1, t + 1] = out[1, t] + r * r
        out[2, t + 1] = out[2, t] + d * d
    return out


@njit(cache=True)
def _init_state(state, init_cash):  # noqa: ANN001, ANN202
    state[:] = 0.0
    state[_CASH] = init_cash
    state[_FREE] = init_cash
    state[_HELD] = np.nan
    state[_PENDING] = np.nan
    state[_PREV_EQ] = init_cash
    state[_PEAK] = init_cash
    state[_PEAK_T] = -1.0  # the initial cash is the first peak, one step before bar 0


@njit(cache=True, parallel=True)
def _ma_cross_sweep_nb(  # noqa: PLR0913
    open_, close, ma, fast_idx, slow_idx, start, hi, lo, bounds, seg_block, n_blocks,
    fee, slippage, min_size, granularity, direction, rebalance, init_cash, group_bounds,
):  # noqa: ANN001, ANN202
    prefix = _return_prefix(close)
    n_combos = fast_idx.shape[0]
    n_segs = bounds.shape[0] - 1
    states = np.empty((n_combos, _N_STATE))
    block_stats = np.zeros((n_combos, n_blocks, 2))
    n_groups = group_bounds.shape[0] - 1
    no_record = np.empty(0)
    no_slow = np.empty(0)
    for g in prange(n_groups):
        c0 = group_bounds[g]
        c1 = group_bounds[g + 1]
        for c in range(c0, c1):
            _init_state(states[c], init_cash)
        for s in range(n_segs):
            a = bounds[s]
            b = bounds[s + 1]
            k = seg_block[s]
            for c in range(c0, c1):
                slow = ma[slow_idx[c]] if slow_idx[c] >= 0 else no_slow  # < 0: `ma` holds targets
                sr, sr2 = _ma_cross_segment(
                    states[c], open_, close, ma[fast_idx[c]], slow, start[c], hi[c], lo[c],
                    a, b, fee, slippage, min_size, granularity, direction, rebalance, no_record, prefix,
                )
                block_stats[c, k, 0] += sr
                block_stats[c, k, 1] += sr2
    return states, block_stats


def _lanes(n: int, n_threads: int, group_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Return (permutation of range(n), group bounds in permuted order) for the threads.

    Combinations are dealt one by one like a snake (0, 1, 1, 0, 0, 1, ...) into one lane per
    thread: cost falls steadily along a grid (slower windows trade less), so every lane gets
    a fair share. A lane is then one group by default: its combinations walk each bar segment
    together, so the segment's prices and moving averages are read from memory once per
    thread rather than once per small group (the sweep is otherwise bound by memory traffic).
    `group_size` splits lanes into smaller groups (kept for experiments).
    """
    k = max(int(n_threads), 1)
    lanes: list[list[int]] = [[] for _ in range(k)]
    for i in range(n):
        turn, pos = divmod(i, k)
        lanes[pos if turn % 2 == 0 else k - 1 - pos].append(i)
    perm: list[int] = []
    bounds = [0]
    for lane in lanes:
        size = len(lane) if not group_size else int(group_size)
        for g in range(0, len(lane), max(size, 1)):
            perm.extend(lane[g:g + size])
            bounds.append(len(perm))
    return np.asarray(perm, dtype=np.int64), np.asarray(bounds, dtype=np.int64)


def default_segment_bars(n_rows: int) -> int:
    """Bars per cache block: the block's moving-average rows plus prices should sit in L2 (~512 KB)."""
    bars = 65_536 // max(n_rows + 5, 1)
    return int(min(max(1 << max(bars.bit_length() - 1, 0), 512), 4096))


def ma_cross_sweep(
    open_: np.ndarray,
    close: np.ndarray,
    ma: np.ndarray,
    fast_idx: np.ndarray,
    slow_idx: np.ndarray,
    start: np.ndarray,
    hi: np.ndarray,
    lo: np.ndarray,
    *,
    fee: float,
    slippage: float = 0.0,
    min_size: float = 0.0,
    granularity: float = float("nan"),
    direction: str = "longonly",
    rebalance: bool = False,
    init_cash: float = 10_000.0,
    timeframe_ms: int = 60_000,
    n_blocks: int = 16,
    segment_bars: int | None = None,
    group_size: int | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Sweep a moving-average crossover over combinations; return metric columns and CSCV block stats.

    `ma` holds one precomputed moving average per distinct window (rows); combination
    `c` is long `hi` when `ma[fast_idx[c]] > ma[slow_idx[c]]`, else `lo`, and 0 before bar
    `start[c]` (warm-up). Block stats are (combos, n_blocks, 2): sum of returns and of
    squared returns per even slice of bars, for CSCV.
    """
    if segment_bars is None:
        segment_bars = default_segment_bars(int(np.shape(ma)[0]))
    bounds, seg_block = segment_bounds(len(close), n_blocks, segment_bars)
    # prange hands each thread a contiguous run of groups: one lane of fairly dealt combinations
    # per thread (see `_lanes`); results go back to the caller's order below.
    perm, group_bounds = _lanes(len(fast_idx), numba.get_num_threads(), group_size)
    states_p, blocks_p = _ma_cross_sweep_nb(
        np.ascontiguousarray(open_, dtype=np.float64),
        np.ascontiguousarray(close, dtype=np.float64),
        np.ascontiguousarray(ma, dtype=np.float64),
        np.ascontiguousarray(np.asarray(fast_idx)[perm], dtype=np.int64),
        np.ascontiguousarray(np.asarray(slow_idx)[perm], dtype=np.int64),
        np.ascontiguousarray(np.asarray(start)[perm], dtype=np.int64),
        np.ascontiguousarray(np.asarray(hi)[perm], dtype=np.float64),
        np.ascontiguousarray(np.asarray(lo)[perm], dtype=np.float64),
        bounds,
        seg_block,
        n_blocks,
        float(fee),
        float(slippage),
        float(min_size),
        float(granularity),
        int(_DIRECTION[direction]),
        bool(rebalance),
        float(init_cash),
        group_bounds,
    )
    states = np.empty_like(states_p)
    states[perm] = states_p
    block_stats = np.empty_like(blocks_p)
    block_stats[perm] = blocks_p
    ann = 365.0 * 86_400_000 / timeframe_ms
    return finalize_metrics(states, init_cash, ann, timeframe_ms), block_stats


@njit(cache=True)
def _ma_cross_equity_nb(
    open_, close, ma_fast, ma_slow, start, hi, lo, fee, slippage, min_size, granularity,
    direction, rebalance, init_cash,
):  # noqa: ANN001, ANN202
    state = np.empty(_N_STATE)
    _init_state(state, init_cash)
    equity = np.empty(close.shape[0])
    _ma_cross_segment(
        state, open_, close, ma_fast, ma_slow, start, hi, lo, 0, close.shape[0],
        fee, slippage, min_size, granularity, direction, rebalance, equity, _return_prefix(close),
    )
    return equity, state


def ma_cross_equity(
    open_: np.ndarray,
    close: np.ndarray,
    ma_fast: np.ndarray,
    ma_slow: np.ndarray,
    *,
    start: int,
    hi: float = 1.0,
    lo: float = 0.0,
    fee: float,
    slippage: float = 0.0,
    min_size: float = 0.0,
    granularity: float = float("nan"),
    direction: str = "longonly",
    rebalance: bool = False,
    init_cash: float = 10_000.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Run one combination; return its equity at each bar's close and its final kernel state."""
    return _ma_cross_equity_nb(
        np.ascontiguousarray(open_, dtype=np.float64),
        np.ascontiguousarray(close, dtype=np.float64),
        np.ascontiguousarray(ma_fast, dtype=np.float64),
        np.ascontiguousarray(ma_slow, dtype=np.float64),
        int(start), float(hi), float(lo), float(fee), float(slippage), float(min_size),
        float(granularity), int(_DIRECTION[direction]), bool(rebalance), float(init_cash),
    )

