"""Market: candles from the lake with SMA/EMA, Bollinger, RSI and MACD, for any series in the lake.

Under the candles, money flow and sentiment (`quantdesk.desk.sentiment`): MFI, and where the lake
holds them (`quantdesk ingest ... --sentiment`, `--futures-data`) the funding rate, open
interest, the long/short account ratio and the taker buy share, each as of the bar's open.

The server downsamples (`quantdesk.desk.market`): a year of 1m candles arrives as ~2,200 4h
bars. The frame is read once per lake change and shared by every session (`desk_feed`), and
drawn with plain Bokeh figures: HoloViews took ~0.5 s of the server per chart. When the lake
changes, the server process's one watcher (`_live.keep_current`) has each open page swap the
new bars into its chart's data in place, without a reload.
"""

from __future__ import annotations

from typing import Any

import panel as pn
from _live import keep_current
from bokeh.layouts import column
from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter
from bokeh.plotting import figure

import quantdesk.indicators  # noqa: F401 - imported when the server starts, not on the first chart
from quantdesk.desk import Snapshot, desk_feed
from quantdesk.desk.pages import DISPLAY_TIMEFRAMES

INDICATORS = ["SMA 20", "EMA 50", "Bollinger", "RSI", "MACD", "MFI", "Sentiment"]
# the sentiment panels: column, title, colour, how the axis reads
SENTIMENT_PANELS = [("funding_rate", "funding rate", "#d62728", "0.0000%"),
                    ("open_interest", "open interest", "#2ca02c", "0.[00]a"),
                    ("long_short_ratio", "long/short account ratio", "#17becf", "0.00"),
                    ("taker_buy_share", "taker buy share", "#bcbd22", "0%")]
LINES = {"SMA 20": [("sma20", "#1f77b4")], "EMA 50": [("ema50", "#ff7f0e")],
         "Bollinger": [("bb_upper", "#7f7f7f"), ("bb_lower", "#7f7f7f")]}


def page() -> pn.viewable.Viewable:
    feed = desk_feed()
    series = sorted({f"{ex} · {sym}" for ex, sym, _tf in feed.lake.series()})
    if not series:
        return pn.Column("# Market", pn.pane.Markdown("*the lake is empty: `quantdesk ingest` or `quantdesk sample`*"))
    pick = pn.widgets.Select(name="series", options=series, value=series[0], width=260)
    timeframe = pn.widgets.Select(name="timeframe", options=list(DISPLAY_TIMEFRAMES), value="1m", width=90)
    days = pn.widgets.IntInput(name="days", value=365, start=1, end=3650, width=90)
    shown = pn.widgets.CheckButtonGroup(name="indicators", options=INDICATORS, value=INDICATORS)
    note = pn.pane.Markdown("", name="note")
    chart = pn.pane.Bokeh(sizing_mode="stretch_width")
    source = ColumnDataSource()
    drawn: dict[str, Any] = {"figures_for": None}

    def read() -> Snapshot:
        exchange, symbol = pick.value.split(" · ", 1)
        return feed.market(exchange=exchange, symbol=symbol, timeframe=timeframe.value, days=days.value)

    def fill(data: dict[str, Any]) -> None:
        """Show a market snapshot: new bars only swap the data of the figures already drawn."""
        exchange, symbol = pick.value.split(" · ", 1)
        missing = [title for col, title, _c, _f in SENTIMENT_PANELS if col in data.get("sentiment_missing", [])]
        lacking = f"; no {', '.join(missing)} in the lake" if missing and "Sentiment" in shown.value else ""
        note.object = f"**{symbol}** on {exchange}: {data['note']}{lacking}"
        if data["frame"].is_empty():
            chart.object, drawn["figures_for"] = None, None
            return
        source.data = _columns(data["frame"])
        choice = (pick.value, data["timeframe"], tuple(shown.value), tuple(data.get("sentiment_missing", [])))
        if drawn["figures_for"] != choice:  # another series, timeframe or set of indicators: new figures
            chart.object = _figures(source, f"{symbol} {data['timeframe']}", data["timeframe"], shown.value,
                                    data.get("sentiment_missing", []))
            drawn["figures_for"] = choice

    for widget in (pick, timeframe, days, shown):
        widget.param.watch(lambda _event: fill(read().value), "value")
    keep_current(read, fill)  # drawn now, then again when the lake has new bars (the process's watcher)
    return pn.Column("# Market", pn.Row(pick, timeframe, days), shown, note, chart, sizing_mode="stretch_width")


def _columns(frame: Any) -> dict[str, Any]:
    """The chart's columns: candles, indicators, and the up/down colour of each bar."""
    data = {name: frame.get_column(name).to_numpy() for name in frame.columns}
    data["ts"] = frame.get_column("ts").dt.replace_time_zone(None).to_numpy()
    data["colour"] = ["#26a69a" if c >= o else "#ef5350" for o, c in zip(data["open"], data["close"], strict=True)]
    return data


def _figures(source: ColumnDataSource, title: str, timeframe: str, shown: list[str], missing: list[str]) -> Any:
    from quantdesk.core.timeframes import timeframe_ms

    width_ms = timeframe_ms(timeframe) * 0.7
    tools = "pan,xwheel_zoom,box_zoom,reset,save"
    price = figure(title=title, x_axis_type="datetime", height=420, sizing_mode="stretch_width", tools=tools)
    price.segment("ts", "high", "ts", "low", source=source, color="colour")
    bars = price.vbar("ts", width_ms, "open", "close", source=source, fill_color="colour", line_color="colour")
    price.add_tools(HoverTool(renderers=[bars], formatters={"@ts": "datetime"},
                              tooltips=[("time", "@ts{%F %H:%M}"), ("open", "@open"), ("high", "@high"),
                                        ("low", "@low"), ("close", "@close"), ("volume", "@volume")]))
    for label, lines in LINES.items():
        if label in shown:
            for column_name, colour in lines:
                price.line("ts", column_name, source=source, color=colour, legend_label=label)
    if price.legend:
        price.legend.location = "top_left"
    panels = [price]
    if "RSI" in shown:
        rsi = figure(title="RSI 14", x_axis_type="datetime", height=200, sizing_mode="stretch_width",
                     x_range=price.x_range, tools=tools)
        rsi.line("ts", "rsi14", source=source, color="#9467bd")
        panels.append(rsi)
    if "MACD" in shown:
        macd = figure(title="MACD histogram", x_axis_type="datetime", height=200, sizing_mode="stretch_width",
                      x_range=price.x_range, tools=tools)
        macd.vbar("ts", width_ms, 0, "macd_hist", source=source, color="#8c564b")
        panels.append(macd)
    if "MFI" in shown:
        money = figure(title="MFI 14 (money flow)", x_axis_type="datetime", height=160, sizing_mode="stretch_width",
                       x_range=price.x_range, tools=tools, name="panel-mfi")
        money.line("ts", "mfi14", source=source, color="#e377c2")
        panels.append(money)
    if "Sentiment" in shown:
        for col, label, colour, axis in SENTIMENT_PANELS:
            if col in missing:
                continue
            panel = figure(title=label, x_axis_type="datetime", height=150, sizing_mode="stretch_width",
                           x_range=price.x_range, tools=tools, name=f"panel-{col}")
            panel.line("ts", col, source=source, color=colour)
            panel.yaxis.formatter = NumeralTickFormatter(format=axis)
            panels.append(panel)
    return column(*panels, sizing_mode="stretch_width")


if __name__.startswith("bokeh"):
    page().servable()
