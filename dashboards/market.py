"""Market: candles from the lake with SMA/EMA, Bollinger, RSI and MACD, for any series in the lake.

The server downsamples (`quantdesk.desk.market`): a year of 1m candles arrives as ~2,200 4h
bars. The chart refreshes every 10 s, so new bars appear without a reload.
"""

from __future__ import annotations

import holoviews as hv
import hvplot.pandas  # noqa: F401 - registers .hvplot on pandas frames
import panel as pn

from quantdesk.desk import market
from quantdesk.desk.pages import DISPLAY_TIMEFRAMES
from quantdesk.lake import Lake

INDICATORS = ["SMA 20", "EMA 50", "Bollinger", "RSI", "MACD"]


def page() -> pn.viewable.Viewable:
    lake = Lake()
    series = sorted({f"{ex} · {sym}" for ex, sym, _tf in lake.series()})
    if not series:
        return pn.Column("# Market", pn.pane.Markdown("*the lake is empty: `quantdesk ingest` or `quantdesk sample`*"))
    pick = pn.widgets.Select(name="series", options=series, value=series[0], width=260)
    timeframe = pn.widgets.Select(name="timeframe", options=list(DISPLAY_TIMEFRAMES), value="1m", width=90)
    days = pn.widgets.IntInput(name="days", value=365, start=1, end=3650, width=90)
    shown = pn.widgets.CheckButtonGroup(name="indicators", options=INDICATORS, value=INDICATORS)
    note = pn.pane.Markdown("", name="note")
    price = pn.pane.HoloViews(sizing_mode="stretch_width", height=420)
    lower = pn.pane.HoloViews(sizing_mode="stretch_width", height=200)

    def render(*_events: object) -> None:
        exchange, symbol = pick.value.split(" · ", 1)
        data = market(lake, exchange=exchange, symbol=symbol, timeframe=timeframe.value, days=days.value)
        note.object = f"**{symbol}** on {exchange}: {data['note']}"
        frame = data["frame"]
        if frame.is_empty():
            price.object, lower.object = None, None
            return
        df = frame.to_pandas()
        chart = df.hvplot.ohlc(x="ts", y=["open", "low", "high", "close"], responsive=True, height=420)
        lines = [("SMA 20", ["sma20"]), ("EMA 50", ["ema50"]), ("Bollinger", ["bb_upper", "bb_lower"])]
        for label, columns in lines:
            if label in shown.value:
                chart = chart * df.hvplot.line(x="ts", y=columns, responsive=True, height=420)
        price.object = chart.opts(title=f"{symbol} {data['timeframe']}")
        panels = []
        if "RSI" in shown.value:
            panels.append(df.hvplot.line(x="ts", y="rsi14", responsive=True, height=200, title="RSI 14"))
        if "MACD" in shown.value:
            panels.append(df.hvplot.bar(x="ts", y="macd_hist", responsive=True, height=200, title="MACD histogram")
                          if len(df) < 400 else
                          df.hvplot.area(x="ts", y="macd_hist", responsive=True, height=200, title="MACD histogram"))
        lower.object = hv.Layout(panels).cols(1) if panels else None

    for widget in (pick, timeframe, days, shown):
        widget.param.watch(render, "value")
    render()
    pn.state.add_periodic_callback(render, period=10_000)  # new bars without a reload
    return pn.Column("# Market", pn.Row(pick, timeframe, days), shown, note, price, lower,
                     sizing_mode="stretch_width")


if __name__.startswith("bokeh"):
    page().servable()
