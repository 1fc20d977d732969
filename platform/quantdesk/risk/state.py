"""Trading states per scope (`global`, `deployment:NAME`) and the store seam to the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from quantdesk.core.types import TradingState

__all__ = ["GLOBAL_SCOPE", "MemoryStateStore", "ScopeState", "ScopeStateRecord", "TradingStateStore", "deployment_scope"]

GLOBAL_SCOPE = "global"


def deployment_scope(deployment: str) -> str:
    """Return the trading-state scope of one deployment (`deployment:NAME`)."""
    return f"deployment:{deployment}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScopeState:
    """The trading state of one scope (`global` or `deployment:NAME`) and why it was set."""

    scope: str
    state: TradingState
    reason: str = ""


class ScopeStateRecord(Protocol):
    """A stored trading state as the gate reads it (`ScopeState`, the ledger's `TradingStateRecord`)."""

    @property
    def scope(self) -> str: ...

    @property
    def state(self) -> TradingState: ...

    @property
    def reason(self) -> str: ...


class TradingStateStore(Protocol):
    """Where trading states live between processes. The ledger's `Ledger` satisfies it as is."""

    def trading_states(self) -> Sequence[ScopeStateRecord]:
        """Return every scope ever set, as records with `scope`, `state` and `reason`."""
        ...

    def set_trading_state(self, scope: str, state: TradingState, reason: str, actor: str) -> ScopeStateRecord:
        """Persist (and audit) the state of `scope`."""
        ...


class MemoryStateStore:
    """A TradingStateStore in memory, for tests, backtests and replay."""

    def __init__(self, *states: ScopeState) -> None:
        self.states: dict[str, ScopeState] = {s.scope: s for s in states}
        self.history: list[tuple[ScopeState, str]] = []

    def trading_states(self) -> list[ScopeState]:
        return list(self.states.values())

    def set_trading_state(self, scope: str, state: TradingState, reason: str, actor: str) -> ScopeState:
        record = ScopeState(scope=scope, state=TradingState(state), reason=reason)
        self.states[scope] = record
        self.history.append((record, actor))
        return record
