"""The bar-by-bar comparison: exact targets, fills within a relative tolerance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.parity import DifferenceKind, compare_runs
from quantdesk.parity.compare import aggregate_fills

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _targets(values: list[float]) -> pl.DataFrame:
    return pl.DataFrame({"ts": [T0 + timedelta(minutes=i) for i in range(len(values))],
                         "symbol": ["BTC/USDT"] * len(values), "target": values})


def _fills(rows: list[tuple[int, str, float, float, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"ts": [T0 + timedelta(minutes=r[0]) for r in rows], "symbol": ["BTC/USDT"] * len(rows),
         "side": [r[1] for r in rows], "qty": [r[2] for r in rows], "price": [r[3] for r in rows],
         "fee": [r[4] for r in rows]},
        schema_overrides={"ts": pl.Datetime("us", "UTC"), "side": pl.String, "qty": pl.Float64,
                          "price": pl.Float64, "fee": pl.Float64},
    )


fill_rows = st.lists(
    st.tuples(st.floats(0.001, 100), st.floats(1, 1e5), st.floats(0, 10)), min_size=1, max_size=20
).map(lambda rows: [(i * 2 + 1, "buy" if i % 2 == 0 else "sell", q, p, f) for i, (q, p, f) in enumerate(rows)])


@settings(max_examples=40, deadline=None)
@given(rows=fill_rows, targets=st.lists(st.sampled_from([0.0, 0.5, 1.0, -1.0]), min_size=2, max_size=60))
def test_identical_runs_have_no_difference(rows: list, targets: list[float]) -> None:
    assert compare_runs(backtest_targets=_targets(targets), replay_targets=_targets(targets),
                        backtest_fills=_fills(rows), replay_fills=_fills(rows)) == []


@settings(max_examples=40, deadline=None)
@given(rows=fill_rows, data=st.data())
def test_a_perturbed_fill_is_reported_at_its_bar(rows: list, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.sampled_from(["qty", "price"]))
    factor = data.draw(st.sampled_from([1 + 1e-6, 1 - 1e-6, 2.0]))
    changed = list(rows)
    bar, side, q, p, f = changed[i]
    changed[i] = (bar, side, q * factor if column == "qty" else q, p * factor if column == "price" else p, f)
    diffs = compare_runs(backtest_targets=_targets([0.0] * 50), replay_targets=_targets([0.0] * 50),
                         backtest_fills=_fills(rows), replay_fills=_fills(changed))
    assert [(d.kind, d.ts) for d in diffs] == [
        (DifferenceKind.FILL_QTY if column == "qty" else DifferenceKind.FILL_PRICE, T0 + timedelta(minutes=bar))
    ]
    assert diffs[0].bar == bar and diffs[0].relative > 1e-9


def test_relative_noise_below_the_tolerance_is_parity() -> None:
    base = [(1, "buy", 0.123456789, 42_000.0, 5.1851851)]
    noisy = [(1, "buy", 0.123456789 * (1 + 2e-12), 42_000.0 * (1 - 3e-12), 5.1851851 * (1 + 1e-12))]
    assert compare_runs(backtest_targets=_targets([0.0, 1.0]), replay_targets=_targets([0.0, 1.0]),
                        backtest_fills=_fills(base), replay_fills=_fills(noisy)) == []


def test_targets_are_compared_exactly_and_missing_fills_are_listed() -> None:
    diffs = compare_runs(
        backtest_targets=_targets([0.0, 1.0, 1.0, 0.0]), replay_targets=_targets([0.0, 1.0, 1.0 - 1e-15, 0.0]),
        backtest_fills=_fills([(2, "buy", 1.0, 10.0, 0.01), (4, "sell", 1.0, 11.0, 0.011)]),
        replay_fills=_fills([(2, "buy", 1.0, 10.0, 0.01), (5, "sell", 1.0, 11.0, 0.011)]),
    )
    assert [(d.kind, d.bar) for d in diffs] == [
        (DifferenceKind.TARGET, 2), (DifferenceKind.FILL_MISSING, 4), (DifferenceKind.FILL_EXTRA, 5)
    ]
    assert "bar 2" in diffs[0].describe()


def test_partial_fills_are_summed_per_bar() -> None:
    parts = _fills([(3, "buy", 0.25, 100.0, 0.025), (3, "buy", 0.75, 104.0, 0.078)])
    one = aggregate_fills(parts).row(0, named=True)
    assert one["qty"] == 1.0 and one["price"] == 103.0 and abs(one["fee"] - 0.103) < 1e-15
