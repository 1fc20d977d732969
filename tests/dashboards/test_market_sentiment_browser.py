"""The market page draws money flow and sentiment under the candles, in a real headless Chromium.

The lake gets funding, open interest, the long/short ratio and taker volume for the sample
series; the page must draw one panel per figure (found by name in the page's Bokeh document)
with the lake's values in its data, and say nothing is missing.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import polars as pl

from tests.dashboards.test_dashboards_browser import PASSWORDS, _login
from tests.dashboards.test_dashboards_browser import pytestmark as browser_marks

pytestmark = browser_marks  # integration, slow, skipped without Debian's chromium

KEY = {"exchange": "synthetic", "symbol": "BTC/USDT"}

_PANELS = """() => Bokeh.documents.flatMap((doc) => [...doc.all_models])
  .filter((m) => typeof m.name === "string" && m.name.startsWith("panel-")).map((m) => m.name).sort()"""
_COLUMN = """(name) => {
  for (const doc of Bokeh.documents) for (const m of doc.all_models)
    if (m.data && name in m.data) return Array.from(m.data[name]).map((v) => (Number.isNaN(v) ? null : v));
  return null;
}"""


def _sentiment(lake: Any) -> None:
    minutes = lake.candles("BTC/USDT", "1m", exchange="synthetic")
    hours = minutes.filter(pl.col("ts").dt.minute() == 0)["ts"]
    lake.numeric.write({"ts": hours, "value": np.linspace(1e6, 2e6, hours.len())}, name="open_interest", **KEY)
    lake.numeric.write({"ts": hours, "value": np.full(hours.len(), 1.25)}, name="long_short_ratio", **KEY)
    lake.numeric.write({"ts": minutes["ts"], "value": minutes["volume"] * 0.6}, name="taker_buy_volume_1m", **KEY)
    lake.numeric.write({"ts": minutes["ts"], "value": minutes["volume"] * 0.4}, name="taker_sell_volume_1m", **KEY)
    settlements = hours.filter(hours.dt.hour() % 8 == 0)
    lake.funding.write({"ts": settlements, "rate": [0.0001] * settlements.len()}, **KEY)


def test_the_market_page_draws_funding_open_interest_ratio_taker_share_and_mfi(server: str, browser: object) -> None:
    from quantdesk.lake import Lake

    _sentiment(Lake())
    page = _login(browser, server, "vic", PASSWORDS["vic"], "market")
    page.get_by_text("downsampled from 1m on the server").wait_for(timeout=30_000)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=30_000)
    page.wait_for_function(f"() => ({_PANELS})().length >= 5", timeout=30_000)
    assert page.evaluate(_PANELS) == ["panel-funding_rate", "panel-long_short_ratio", "panel-mfi",
                                      "panel-open_interest", "panel-taker_buy_share"]
    share = [v for v in page.evaluate(_COLUMN, "taker_buy_share") if v is not None]
    assert len(share) > 500 and np.allclose(share, 0.6)  # each 5m bar summed from the 1m taker volumes
    interest = [v for v in page.evaluate(_COLUMN, "open_interest") if v is not None]
    assert interest and min(interest) >= 1e6 and max(interest) <= 2e6
    assert page.get_by_text(re.compile(r"5m bars.*in the lake")).count() == 0  # nothing reported missing
