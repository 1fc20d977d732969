"""Bokeh figures the pages share: lines over time, bars, candles with markers. Plain Bokeh (HoloViews
costs ~0.5 s of the server per chart); each figure keeps its ColumnDataSource so a change swaps data
in place instead of sending a new figure."""

from __future__ import annotations

from typing import Any

from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

TOOLS = "pan,xwheel_zoom,box_zoom,reset,save"
UP, DOWN = "#26a69a", "#ef5350"


def naive_utc(values: Any) -> Any:
    """Return polars datetimes as numpy datetime64 in UTC without a zone (what Bokeh's datetime axis reads)."""
    return values.dt.replace_time_zone(None).to_numpy()


def lines(series: dict[str, Any], *, title: str, y_label: str, height: int = 300) -> Any:
    """Return one line per entry of `series` (name -> frame with `ts` and `equity`) on a datetime axis."""
    chart = figure(title=title, x_axis_type="datetime", height=height, sizing_mode="stretch_width", tools=TOOLS)
    for i, (name, frame) in enumerate(sorted(series.items())):
        source = ColumnDataSource({"ts": naive_utc(frame.get_column("ts")), "y": frame.get_column("equity").to_numpy(),
                                   "name": [name] * frame.height})
        chart.line("ts", "y", source=source, color=Category10_10[i % 10], line_width=2, legend_label=name)
    chart.yaxis.axis_label = y_label
    chart.yaxis.formatter = NumeralTickFormatter(format="0,0")
    chart.add_tools(HoverTool(formatters={"@ts": "datetime"},
                              tooltips=[("deployment", "@name"), ("time", "@ts{%F %H:%M} UTC"), ("equity", "@y{0,0.00}")]))
    if chart.legend:
        chart.legend.location = "top_left"
        chart.legend.click_policy = "hide"
    return chart


def bars(labels: list[str], values: list[float], *, title: str, x_label: str, colours: list[str] | None = None,
         height: int | None = None) -> Any:
    """Return horizontal bars, one per label."""
    height = height or max(140, 40 + 28 * len(labels))
    chart = figure(title=title, y_range=list(reversed(labels)), height=height, sizing_mode="stretch_width",
                   tools="save", toolbar_location=None)
    source = ColumnDataSource({"label": labels, "value": values,
                               "colour": colours or ["#0f4c81" if v >= 0 else DOWN for v in values]})
    chart.hbar(y="label", right="value", height=0.6, source=source, color="colour")
    chart.xaxis.axis_label = x_label
    chart.xaxis.formatter = NumeralTickFormatter(format="0,0.[00]")
    chart.add_tools(HoverTool(tooltips=[("", "@label"), ("value", "@value{0,0.00}")]))
    return chart


def candles_with_fills(data: dict[str, Any]) -> Any:
    """Return the candles of `data` (`quantdesk.desk.pictures.fills_on_candles`) with each fill as a marker."""
    from quantdesk.core.timeframes import timeframe_ms

    frame = data["candles"]
    chart = figure(title=f"{data['symbol']} {data['timeframe']} ({data['exchange']}) with the desk's fills",
                   x_axis_type="datetime", height=380, sizing_mode="stretch_width", tools=TOOLS)
    candles = ColumnDataSource({
        "ts": naive_utc(frame.get_column("ts")), **{c: frame.get_column(c).to_numpy() for c in ("open", "high", "low", "close")},
        "colour": [UP if c >= o else DOWN for o, c in zip(frame.get_column("open"), frame.get_column("close"), strict=True)]})
    chart.segment("ts", "high", "ts", "low", source=candles, color="colour")
    chart.vbar("ts", timeframe_ms(data["timeframe"]) * 0.7, "open", "close", source=candles, fill_color="colour",
               line_color="colour")
    for side, marker, colour in (("buy", "triangle", "#1565c0"), ("sell", "inverted_triangle", "#ef6c00")):
        mine = [f for f in data["fills"] if str(f.side).lower().endswith(side)]
        source = ColumnDataSource({
            "ts": [f.ts.replace(tzinfo=None) for f in mine], "price": [float(f.price) for f in mine],
            "qty": [str(f.qty) for f in mine], "side": [side] * len(mine)})
        points = chart.scatter("ts", "price", source=source, marker=marker, size=13, color=colour,
                               line_color="#111111", legend_label=f"{side} fills")
        chart.add_tools(HoverTool(renderers=[points], formatters={"@ts": "datetime"},
                                  tooltips=[("fill", "@side @qty"), ("price", "@price{0,0.00[000]}"),
                                            ("time", "@ts{%F %H:%M:%S} UTC")]))
    chart.yaxis.formatter = NumeralTickFormatter(format="0,0.[00]")
    chart.legend.location = "top_left"
    return chart


def limit_use(rows: list[dict[str, Any]]) -> Any:
    """Return each limit's use against the limit as a bar of the fraction used (a line at 100%)."""
    from bokeh.models import Span

    labels = [r["limit"] for r in rows]
    fractions = [r["fraction"] for r in rows]
    colours = ["#b42318" if f >= 1 else "#b86e00" if f >= 0.8 else "#1b7f4b" for f in fractions]
    chart = bars(labels, fractions, title="Use against limit (100% = the limit)", x_label="share of the limit used",
                 colours=colours)
    chart.xaxis.formatter = NumeralTickFormatter(format="0%")
    chart.x_range.start = 0
    chart.x_range.end = max(1.05, max(fractions, default=0) * 1.1)  # the limit itself is always in view
    chart.add_layout(Span(location=1.0, dimension="height", line_color="#b42318", line_dash="dashed"))
    return chart


def stacked_counts(frame: Any, *, title: str) -> Any:
    """Return counts per time bucket stacked by code (`ts`, `code`, `count`)."""
    import polars as pl

    codes = sorted(frame.get_column("code").unique().to_list())
    wide = frame.pivot(on="code", index="ts", values="count", aggregate_function="sum").fill_null(0).sort("ts")
    data = {"ts": naive_utc(wide.get_column("ts")), **{c: wide.get_column(c).cast(pl.Float64).to_numpy() for c in codes}}
    chart = figure(title=title, x_axis_type="datetime", height=260, sizing_mode="stretch_width", tools=TOOLS)
    chart.vbar_stack(codes, x="ts", width=86_400_000 * 0.8, source=ColumnDataSource(data),
                     color=[Category10_10[i % 10] for i in range(len(codes))], legend_label=codes)
    chart.yaxis.axis_label = "denials per day"
    chart.legend.location = "top_left"
    return chart


def against_backtest(curves: Any, *, title: str, unit: str) -> Any:
    """Return a deployment's equity (`actual`) beside its backtest's over the same bars."""
    chart = figure(title=title, x_axis_type="datetime", height=260, sizing_mode="stretch_width", tools=TOOLS)
    source = ColumnDataSource({"ts": naive_utc(curves.get_column("ts")), "actual": curves.get_column("actual").to_numpy(),
                               "backtest": curves.get_column("backtest").to_numpy()})
    chart.line("ts", "backtest", source=source, color="#98a2b3", line_width=2, line_dash="dashed", legend_label="backtest")
    chart.line("ts", "actual", source=source, color="#0f4c81", line_width=2, legend_label="deployment")
    chart.yaxis.axis_label = unit
    chart.yaxis.formatter = NumeralTickFormatter(format="0,0")
    chart.add_tools(HoverTool(formatters={"@ts": "datetime"}, tooltips=[
        ("time", "@ts{%F %H:%M} UTC"), ("deployment", "@actual{0,0.00}"), ("backtest", "@backtest{0,0.00}")]))
    chart.legend.location = "top_left"
    return chart
