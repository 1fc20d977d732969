"""The risk gate (DESIGN.md, contract 6): every order intent passes it; decisions are values.

Imports only `quantdesk.core`. Persistence of denials and of the trading state happens in
the broker/CLI layer through the ledger (`TradingStateStore` is the seam).

    gate = RiskGate(RiskConfig.from_settings(), clock, state_store)
    decision = gate.check(intent, RiskContext(positions=..., last_prices=..., ...))
    if not decision.approved: ledger.record_risk_event(...); notifier.notify(...)
"""

from quantdesk.risk.config import BUILTIN_LIMITS, LimitSource, RiskConfig, RiskLimits
from quantdesk.risk.context import RiskContext
from quantdesk.risk.decision import DenialCode, RiskDecision, StateChange
from quantdesk.risk.gate import RiskGate
from quantdesk.risk.state import (
    GLOBAL_SCOPE,
    MemoryStateStore,
    ScopeState,
    ScopeStateRecord,
    TradingStateStore,
    deployment_scope,
)
from quantdesk.risk.var_limit import VarModel

__all__ = [
    "BUILTIN_LIMITS",
    "GLOBAL_SCOPE",
    "LimitSource",
    "DenialCode",
    "MemoryStateStore",
    "RiskConfig",
    "RiskContext",
    "RiskDecision",
    "RiskGate",
    "RiskLimits",
    "ScopeState",
    "ScopeStateRecord",
    "StateChange",
    "TradingStateStore",
    "VarModel",
    "deployment_scope",
]
