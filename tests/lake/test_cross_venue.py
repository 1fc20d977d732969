"""The same symbol from two venues: aligned closes and the spread, only on bars both have."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantdesk.core.errors import LakeError
from quantdesk.lake import Lake, cross_venue
from tests.lake.lake_helpers import candles

T0_MS = 1704067200000


def test_the_spread_is_computed_on_bars_both_venues_have(quantdesk_home: Path) -> None:
    lake = Lake()
    a = candles(list(range(10)), t0_ms=T0_MS)
    b = a.filter(a["ts"] != a["ts"][4])  # venue b misses bar 4
    b = b.with_columns(close=b["close"] * 1.001, high=b["high"] * 1.001)  # 10 bps above venue a
    lake.write(a, exchange="venue-a", symbol="BTC/USDT", timeframe="1m")
    lake.write(b, exchange="venue-b", symbol="BTC/USDT", timeframe="1m")
    lake.write(a, exchange="venue-a", symbol="ETH/USDT", timeframe="1m")
    spread = cross_venue(lake, "BTC/USDT", "1m")
    assert spread.columns == ["ts", "close_venue-a", "close_venue-b", "spread_bps_venue-b"]
    assert spread.height == 9 and 4 not in [int((t.timestamp() * 1000 - T0_MS) / 60_000) for t in spread["ts"]]
    assert spread["spread_bps_venue-b"].round(6).unique().to_list() == [10.0]
    with pytest.raises(LakeError, match="two venues or more; the lake has it from \\['venue-a'\\]"):
        cross_venue(lake, "ETH/USDT", "1m")
