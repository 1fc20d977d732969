"""Data behind the risk page's VaR panels (issue 25): `quantdesk.book.risk_overview`, cached briefly.

Every open risk page asks for the same desk-wide figures; they change once a day (the matrices)
or when fills arrive, so one computation serves all sessions for `TTL_S` seconds.
"""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["TTL_S", "cached_var_risk", "var_risk"]

TTL_S = 30.0
_lock = threading.Lock()
_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def var_risk(ledger: Any, lake: Any = None, *, settings: Any = None, fresh: bool = False) -> dict[str, Any]:
    """Return the desk's and deployments' VaR/ES with contributions, the VaR backtest series and the stress table."""
    from quantdesk.book.overview import risk_overview

    key = str(getattr(ledger, "url", ""))
    with _lock:
        hit = _cache.get(key)
        if hit is not None and not fresh and time.monotonic() - hit[0] < TTL_S:
            return hit[1]
        data = risk_overview(ledger, lake, settings=settings)
        _cache[key] = (time.monotonic(), data)
        return data


def cached_var_risk(ledger: Any) -> dict[str, Any] | None:
    """Return the last `var_risk` this process computed for `ledger` (however old), without computing one."""
    with _lock:
        hit = _cache.get(str(getattr(ledger, "url", "")))
    return None if hit is None else hit[1]
