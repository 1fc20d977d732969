"""The pre-trade VaR limit: `max_desk_var_pct` and `max_deployment_var_pct` (code VAR_LIMIT_EXCEEDED).

An order adds Δ = signed qty × price of exposure to one asset. The rule compares the book's
1-day VaR (at `[risk.var]` confidence) after the order with the limit, a percent of equity, and
denies the order when it would lift the VaR above the limit (an order that lowers the VaR always
passes, so a book over its limit can still be reduced). The matrices are built once a day by the
layer above (`quantdesk.book.gate`): the day's return scenarios R (T × n), their covariance Σ and
mean μ, and per scope (the desk, each deployment) the exposure x with Rx, Σx and xΣx cached, so
a check is a few dot products:

- gaussian: VaR = z·√(xΣx + 2Δ(Σx)_j + Δ²Σ_jj) − (x·μ + Δμ_j);
- historical: VaR = −quantile(Rx + Δ·R_j, α), a partition of T numbers; skipped when the bound
  VaR(x) + |Δ|·max_t |R_tj| (no order statistic moves further than its scenarios) is under the limit.

Exposures are as of the source's last look at the ledger's fills (`[risk.var] refresh_s`, 5 s by
default; an incremental read of the new fills, the matrices stay). A gate given no model does not evaluate these
limits (replays and research gates); the desk's gates get one from `quantdesk.book`, and a model
that cannot be built denies (fail closed) with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from quantdesk.risk.config import RiskLimits
from quantdesk.risk.decision import DenialCode, RiskDecision

__all__ = ["ScopeExposure", "VarModel", "VarModelSource", "check_var"]


@dataclass(slots=True, kw_only=True)
class ScopeExposure:
    """One scope's exposure vector (quote per asset) and its cached products with the matrices."""

    exposure: np.ndarray
    equity: float | None
    pnl: np.ndarray = field(default_factory=lambda: np.zeros(0))  # R x
    sigma_x: np.ndarray = field(default_factory=lambda: np.zeros(0))  # Σ x
    variance: float = 0.0  # x Σ x
    mean: float = 0.0  # x · μ
    var: float = 0.0  # the scope's VaR now


class VarModel:
    """One day's VaR matrices and exposures; `var_after(scope, column, delta)` is the hot path."""

    def __init__(self, *, day: str, symbols: tuple[str, ...], returns: np.ndarray, prices: np.ndarray,
                 confidence: float, method: str, desk: np.ndarray, desk_equity: float | None,
                 deployments: Mapping[str, tuple[np.ndarray, float | None]] | None = None) -> None:
        from scipy.special import ndtri  # built once a day, never on the check path

        self.day = day
        self.symbols = symbols
        self.column = {s: i for i, s in enumerate(symbols)}
        self.returns = np.ascontiguousarray(returns, dtype=float)  # T × n
        self.returns_t = np.ascontiguousarray(self.returns.T)  # n × T: one asset's scenarios contiguous
        self.prices = np.asarray(prices, dtype=float)
        self.confidence = float(confidence)
        self.method = method
        self.alpha = 1.0 - self.confidence
        self.z = float(ndtri(self.confidence))
        self.cov = np.atleast_2d(np.cov(self.returns, rowvar=False, ddof=1)) if self.returns.shape[0] > 1 \
            else np.zeros((len(symbols), len(symbols)))
        self.mu = self.returns.mean(axis=0)
        # a scenario moves by at most |Δ|·max|r_j| when Δ is added to column j, and so does any order
        # statistic of them: VaR now + |Δ|·max|r_j| bounds the historical VaR after the order
        self.max_abs = np.abs(self.returns).max(axis=0) if self.returns.size else np.zeros(len(symbols))
        n = self.returns.shape[0]
        h = (n - 1) * self.alpha
        self._lo = min(int(math.floor(h)), n - 1)
        self._hi = min(self._lo + 1, n - 1)
        self._g = h - self._lo
        self._buffer = np.empty(n)
        self.desk = self.scope(desk, desk_equity)
        self.deployments = {name: self.scope(x, eq) for name, (x, eq) in (deployments or {}).items()}

    def scope(self, exposure: np.ndarray, equity: float | None) -> ScopeExposure:
        """Return a scope with its products cached."""
        x = np.asarray(exposure, dtype=float)
        sigma_x = self.cov @ x
        scope = ScopeExposure(exposure=x, equity=equity, pnl=self.returns @ x, sigma_x=sigma_x,
                              variance=float(x @ sigma_x), mean=float(x @ self.mu))
        scope.var = self.var_of(scope, {}) if self.returns.shape[0] else 0.0
        return scope

    def var_of(self, scope: ScopeExposure, delta: Mapping[int, float]) -> float:
        """Return the 1-day VaR (quote) of `scope` after adding `delta` (column -> quote) to it."""
        if self.method == "gaussian":
            variance, mean = scope.variance, scope.mean
            for j, d in delta.items():
                variance += 2.0 * d * scope.sigma_x[j] + d * d * self.cov[j, j]
                mean += d * self.mu[j]
            for j, d in delta.items():  # cross terms between the changed columns
                for k, e in delta.items():
                    if j < k:
                        variance += 2.0 * d * e * self.cov[j, k]
            return self.z * math.sqrt(max(variance, 0.0)) - mean
        buf = self._buffer  # one scratch array: no allocation per check (the gate checks under its lock)
        first = True
        for j, d in delta.items():
            if first:
                np.multiply(self.returns_t[j], d, out=buf)
                first = False
            else:
                buf += d * self.returns_t[j]
        if first:
            buf[:] = scope.pnl
        else:
            buf += scope.pnl
        buf.partition(self._hi)  # in place: the hi-th smallest at hi, the smaller ones before it
        b = float(buf[self._hi])
        a = float(buf[:self._hi].max()) if self._hi > self._lo else b
        return -(a + (b - a) * self._g)


VarModelSource = Callable[[], VarModel]


def _deny(detail: str) -> RiskDecision:
    return RiskDecision(approved=False, code=DenialCode.VAR_LIMIT_EXCEEDED, detail=detail)


def _judge(model: VarModel, what: str, limit_pct: Decimal, scope: ScopeExposure, base: dict[int, float],
           j: int, order: float, equity: float | None) -> RiskDecision | None:
    if equity is None or equity <= 0:
        return _deny(f"{what} VaR limit {limit_pct} % cannot be checked: no positive equity for the {what} "
                     "(reconcile the venues' balances, or give the deployment capital)")
    limit = float(limit_pct) / 100.0 * equity
    if not base and model.method == "historical" and scope.var + abs(order) * model.max_abs[j] <= limit:
        return None  # the bound fits under the limit: no need to compute the VaR after the order
    after_delta = dict(base)
    after_delta[j] = after_delta.get(j, 0.0) + order
    after = model.var_of(scope, after_delta)
    if after <= limit:
        return None
    before = model.var_of(scope, base)  # only over the limit: does this order lift the VaR?
    if after <= before:
        return None
    pct = 100.0 * after / equity
    return _deny(f"{what} VaR ({model.confidence:.4g}, 1d, {model.method}) would be {after:,.2f} ({pct:.2f} % of "
                 f"equity {equity:,.2f}), above max_{what}_var_pct {limit_pct} (limit {limit:,.2f}); it is "
                 f"{before:,.2f} now and this order adds {after - before:,.2f}")


def check_var(limits: RiskLimits, source: VarModelSource | None, *, deployment: str, venue: str, symbol: str,
              signed_qty: Decimal, price: Decimal | None, equity: Decimal | None) -> RiskDecision | None:
    """Deny an order that would lift the desk's or the deployment's VaR above its limit (None: passes)."""
    desk_pct, own_pct = limits.max_desk_var_pct, limits.max_deployment_var_pct
    if (desk_pct is None and own_pct is None) or source is None:
        return None
    try:
        model = source()
    except Exception as e:  # noqa: BLE001 - fail closed, saying why
        return _deny(f"the VaR limit cannot be checked: {str(e).splitlines()[0][:300]}")
    j = model.column.get(symbol)
    extend = getattr(source, "extend", None)
    if j is None and extend is not None:  # a symbol first traded today: the model takes it in once
        try:
            model = extend(venue, symbol)
        except Exception as e:  # noqa: BLE001 - fail closed, saying why
            return _deny(f"the VaR limit cannot be checked for {symbol}: {str(e).splitlines()[0][:300]}")
        j = model.column.get(symbol)
    if j is None:
        return _deny(f"{symbol} has no return history in today's VaR model ({model.day}): ingest its candles "
                     "(`quantdesk ingest`) before trading it under a VaR limit")
    unit = float(price) if price is not None else float(model.prices[j])
    order = float(signed_qty) * unit
    if desk_pct is not None:
        denial = _judge(model, "desk", desk_pct, model.desk, {}, j, order, model.desk.equity)
        if denial is not None:
            return denial
    own = model.deployments.get(deployment)
    if own_pct is not None and (own is not None or equity is not None):  # manual orders: the desk limit only
        own = own or model.scope(np.zeros(len(model.symbols)), None)
        cash = float(equity) if equity is not None else own.equity
        return _judge(model, "deployment", own_pct, own, {}, j, order, cash)
    return None
