"""Fetch OHLCV pages through ccxt: paginated, rate-limited, retrying only network errors."""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import ccxt
import polars as pl
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from quantdesk.core.errors import ExchangeUnavailableError, IngestError
from quantdesk.core.timeframes import timeframe_ms

__all__ = [
    "RetryPolicy",
    "call_with_retries",
    "check_ohlcv_rows",
    "fetch_ohlcv_pages",
    "fetch_ohlcv_rows",
    "ohlcv_to_frame",
    "page_limit_for",
    "request_limit",
]

T = TypeVar("T")

CANDLE_SCHEMA = {
    "ts": pl.Datetime("ms", "UTC"),
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Float64,
}

_OFFLINE_HINT = (
    "this machine may have no internet access: use `quantdesk sample` for offline data, or a "
    "venue with an API URL (`quantdesk venue add NAME --exchange ID --api-url http://127.0.0.1:PORT`)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how long to retry network errors (exponential backoff, Retry-After honoured)."""

    max_attempts: int = 6
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    max_retry_after_s: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


def _retry_after_s(exchange: ccxt.Exchange) -> float | None:
    headers = getattr(exchange, "last_response_headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None  # an HTTP-date Retry-After falls back to exponential backoff


def _wait(exchange: ccxt.Exchange, policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        backoff = min(
            policy.max_backoff_s, policy.initial_backoff_s * 2 ** (state.attempt_number - 1)
        )
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
            retry_after = _retry_after_s(exchange)
            if retry_after is not None:
                return min(policy.max_retry_after_s, max(backoff, retry_after))
        return backoff

    return wait


def call_with_retries(
    exchange: ccxt.Exchange, func: Callable[[], T], policy: RetryPolicy, what: str
) -> T:
    """Call `func`, retrying ccxt network errors only; translate failures into IngestError."""
    retrying = Retrying(
        retry=retry_if_exception_type(ccxt.NetworkError),
        stop=stop_after_attempt(max(1, policy.max_attempts)),
        wait=_wait(exchange, policy),
        sleep=policy.sleep,
        reraise=True,
    )
    try:
        return retrying(func)
    except ccxt.NetworkError as e:
        raise ExchangeUnavailableError(
            f"could not reach {exchange.id} for {what} after {policy.max_attempts} attempts "
            f"({type(e).__name__}: {e}); {_OFFLINE_HINT}"
        ) from e
    except ccxt.BadSymbol as e:
        raise IngestError(
            f"{exchange.id} does not list the symbol for {what} ({e}); check the symbol"
        ) from e
    except ccxt.AuthenticationError as e:
        raise IngestError(
            f"{exchange.id} refused the credentials for {what}; check the venue's key/secret env vars"
        ) from e
    except ccxt.BaseError as e:
        raise IngestError(f"{exchange.id} refused {what}: {type(e).__name__}: {e}") from e
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
        raise IngestError(
            f"{exchange.id} returned a malformed response for {what} ({type(e).__name__}: {e}); "
            "retry later or check the venue"
        ) from e


def request_limit(exchange: ccxt.Exchange, market: dict[str, Any]) -> int:
    """Return the exchange's maximum candles per fetchOHLCV request for `market` (500 if unknown)."""
    features: dict[str, Any] = (exchange.features or {}).get(market.get("type") or "spot") or {}
    if "fetchOHLCV" not in features:
        sub = "linear" if market.get("linear") else "inverse" if market.get("inverse") else None
        features = features.get(sub or "", {}) or {}
    limit = (features.get("fetchOHLCV") or {}).get("limit")
    return int(limit) if limit else 500


def check_ohlcv_rows(rows: Any) -> list[list[Any]]:
    """Return ccxt OHLCV rows after checking their shape (a list of `[ts_ms, o, h, l, c, v, ...]`)."""
    if not isinstance(rows, list) or any(
        not isinstance(r, list | tuple) or len(r) < 6 for r in rows
    ):
        raise TypeError(
            f"expected a list of [ts, open, high, low, close, volume] rows, got {str(rows)[:80]!r}"
        )
    return rows


def ohlcv_to_frame(rows: list[list[Any]]) -> pl.DataFrame:
    """Return ccxt OHLCV rows `[ts_ms, o, h, l, c, v]` as a candle-contract frame sorted by `ts`."""
    check_ohlcv_rows(rows)
    columns = list(zip(*[r[:6] for r in rows], strict=True)) if rows else [[]] * 6
    frame = pl.DataFrame(
        {
            "ts": pl.Series(columns[0], dtype=pl.Int64),
            **{
                name: pl.Series([None if v is None else float(v) for v in col], dtype=pl.Float64)
                for name, col in zip(
                    ("open", "high", "low", "close", "volume"), columns[1:], strict=True
                )
            },
        }
    )
    return frame.with_columns(
        pl.col("ts").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    ).sort("ts")


def fetch_ohlcv_rows(
    exchange: ccxt.Exchange, symbol: str, timeframe: str, since: int | None, limit: int,
    params: dict[str, Any] | None = None,
) -> list[list[Any]]:
    """Return one page of raw ccxt OHLCV rows, shape-checked (no retries: wrap in `call_with_retries`).

    `params` go to ccxt as they are, e.g. `{"price": "mark"}` for a perpetual's mark-price candles.
    """
    extra = {"params": params} if params else {}  # plain candles call ccxt exactly as before
    rows = exchange.fetch_ohlcv(symbol, timeframe, since=since, limit=limit, **extra)
    if not rows:
        check_json_body(getattr(exchange, "last_http_response", None))
    return check_ohlcv_rows(rows)


def check_json_body(raw: object) -> None:
    """Raise ValueError when the last HTTP body is not JSON.

    ccxt turns a body it cannot parse into an empty list, so an empty result alone cannot tell
    "no candles here" (`[]`, a valid answer) from a broken answer. ccxt keeps the parsed body
    (`last_json_response`) only with `enableLastJsonResponse`, so the raw body is parsed here.
    """
    if not isinstance(raw, str) or not raw.strip():
        return  # nothing kept (or an empty body ccxt already judged): trust ccxt
    try:
        json.loads(raw)
    except ValueError:
        raise ValueError(f"the response is not JSON: {raw[:60]!r}") from None


def _fetch_page(
    exchange: ccxt.Exchange, symbol: str, timeframe: str, since: int, limit: int,
    params: dict[str, Any] | None = None,
) -> pl.DataFrame:
    return ohlcv_to_frame(fetch_ohlcv_rows(exchange, symbol, timeframe, since, limit, params))


def newest_open_ms(exchange: ccxt.Exchange, symbol: str, timeframe: str,
                   params: dict[str, Any] | None = None) -> int | None:
    """Return the open time of the newest candle the exchange has for `symbol` (None: it has none)."""
    rows = fetch_ohlcv_rows(exchange, symbol, timeframe, None, 1, params)
    return max(int(r[0]) for r in rows) if rows else None


def find_market(exchange: ccxt.Exchange, symbol: str, policy: RetryPolicy) -> dict[str, Any]:
    """Load markets (with retries) and return `symbol`'s market, or raise IngestError with suggestions."""
    markets = call_with_retries(exchange, exchange.load_markets, policy, "loading markets")
    if symbol not in markets:
        close = difflib.get_close_matches(symbol, list(markets), n=3)
        hint = (
            f"did you mean {', '.join(close)}?" if close else "use the unified form, e.g. BTC/USDT"
        )
        raise IngestError(f"{exchange.id} has no market {symbol!r}: {hint}")
    if not exchange.has.get("fetchOHLCV"):
        raise IngestError(f"{exchange.id} does not offer fetchOHLCV in ccxt; pick another exchange")
    return markets[symbol]


def page_limit_for(exchange: ccxt.Exchange, symbol: str, timeframe: str, policy: RetryPolicy) -> int:
    """Check that `exchange` offers `symbol` in `timeframe` (IngestError naming the fix) and return its page size."""
    market = find_market(exchange, symbol, policy)
    if timeframe not in (exchange.timeframes or {timeframe: timeframe}):
        raise IngestError(
            f"{exchange.id} has no timeframe {timeframe!r}; it offers {', '.join(exchange.timeframes)}"
        )
    return request_limit(exchange, market)


def fetch_ohlcv_pages(
    exchange: ccxt.Exchange,
    symbol: str,
    timeframe: str,
    *,
    since_ms: int,
    until_ms: int,
    policy: RetryPolicy,
    limit: int | None = None,
    params: dict[str, Any] | None = None,
) -> Iterator[pl.DataFrame]:
    """Yield closed candles in `[since_ms, until_ms)` page by page, oldest first.

    `until_ms` should be no later than the open time of the still-open candle; rows at or
    after it are dropped. Each page asks for the exchange's per-request maximum.
    """
    page_limit = limit or page_limit_for(exchange, symbol, timeframe, policy)
    step = timeframe_ms(timeframe)
    cursor = since_ms
    while cursor < until_ms:
        start = cursor
        rows = call_with_retries(
            exchange,
            lambda start=start: _fetch_page(exchange, symbol, timeframe, start, page_limit, params),
            policy,
            f"{symbol} {timeframe} candles since {start}",
        )
        if rows.is_empty():
            # A valid empty page: no candles in this window. Exchanges that answer "the first
            # candles at or after `since`" (Binance) mean there are none later either; those
            # that answer one window at a time may have candles after a quiet window. One
            # request for the newest candle tells which: stop, or move past the window.
            newest = call_with_retries(
                exchange, lambda: newest_open_ms(exchange, symbol, timeframe, params), policy,
                f"the newest {symbol} {timeframe} candle",
            )
            if newest is None or newest < start + page_limit * step:
                return
            cursor = start + page_limit * step
            continue
        last_ms = int(rows["ts"].cast(pl.Int64).max())  # type: ignore[arg-type]
        start_ts = pl.lit(start).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
        until_ts = pl.lit(until_ms).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
        page = rows.filter((pl.col("ts") >= start_ts) & (pl.col("ts") < until_ts))
        if not page.is_empty():
            yield page
        if last_ms < start:  # the venue ignored `since`; stop rather than loop forever
            return
        cursor = last_ms + step
