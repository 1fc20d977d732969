"""`[risk.var]` and `[[risk.scenarios]]` in `quantdesk.toml`, and the built-in stress scenarios.

```toml
[risk.default]
max_desk_var_pct = 5            # the desk's 1-day VaR at most 5 % of the desk's equity (pre-trade)
max_deployment_var_pct = 3      # each deployment's own VaR at most 3 % of its equity

[risk.var]                      # what the gate, the monitor and `quantdesk risk var` default to
method = "historical"           # the gate computes historical or gaussian (a dot product per order)
confidence = 0.99
window_days = 365

[[risk.scenarios]]              # a hypothetical shock: per asset, or per group
name = "alt-crash"
shocks = { BTC = -0.30, alts = -0.45 }     # groups: all, alts (all but BTC), or the scenario's groups
funding_rate = 0.003            # perpetuals: per 8 h interval (longs pay a positive rate) ...
funding_intervals = 9           # ... for three days
unreachable_venues = ["binance"]  # positions there are frozen at the shocked price

[[risk.scenarios]]              # a historical window replayed from the lake
name = "xrp-nov-2021"
start = "2021-11-15"
end = "2021-11-21"
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["BUILTIN_SCENARIOS", "BuiltinWindow", "ScenarioModel", "VarSettingsModel"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class VarSettingsModel(BaseModel):
    """`[risk.var]`: the defaults of the pre-trade VaR limit, the monitor's series and the CLI."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str = Field(default="historical", pattern="^(historical|gaussian)$")
    confidence: float = Field(default=0.99, gt=0.5, lt=1.0)
    window_days: int = Field(default=365, ge=20, le=3650)
    refresh_s: float = Field(default=5.0, gt=0)  # how often the gate re-reads new fills (matrices: daily)


class ScenarioModel(BaseModel):
    """One `[[risk.scenarios]]` entry: a historical window (start, end) or hypothetical shocks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    start: date | None = None
    end: date | None = None
    shocks: dict[str, float] = Field(default_factory=dict)
    groups: dict[str, list[str]] = Field(default_factory=dict)
    funding_rate: float = Field(default=0.0, ge=-0.1, le=0.1)
    funding_intervals: int = Field(default=3, ge=0, le=1000)
    unreachable_venues: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use 1-64 letters, digits, '_', '-' or '.'")
        return value

    @field_validator("shocks")
    @classmethod
    def _shocks(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not -1.0 <= v <= 10.0}
        if bad:
            raise ValueError(f"shocks are simple returns from -1 (to zero) up, e.g. BTC = -0.30; got {bad}")
        return value

    @model_validator(mode="after")
    def _kind(self) -> ScenarioModel:
        if (self.start is None) != (self.end is None):
            raise ValueError("a historical scenario needs both start and end (dates, UTC, inclusive)")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if self.start is not None and self.shocks:
            raise ValueError("give either a historical window (start, end) or shocks, not both")
        if self.start is None and not (self.shocks or self.funding_rate or self.unreachable_venues):
            raise ValueError("a scenario needs start/end, shocks, a funding_rate or unreachable_venues")
        return self


@dataclass(frozen=True, slots=True, kw_only=True)
class BuiltinWindow:
    """A crash the desk should survive, replayed from the lake where it holds the dates."""

    name: str
    start: date
    end: date
    description: str


BUILTIN_SCENARIOS: tuple[BuiltinWindow, ...] = (
    BuiltinWindow(name="covid-2020-03-12", start=date(2020, 3, 12), end=date(2020, 3, 12),
                  description="Black Thursday: BTC fell about 40 % in a day; BitMEX went offline"),
    BuiltinWindow(name="crash-2021-05-19", start=date(2021, 5, 19), end=date(2021, 5, 19),
                  description="China's mining and trading ban: BTC down 30 % intraday, alts more"),
    BuiltinWindow(name="luna-2022-05-09", start=date(2022, 5, 9), end=date(2022, 5, 12),
                  description="Terra/LUNA and UST collapse"),
    BuiltinWindow(name="ftx-2022-11-08", start=date(2022, 11, 8), end=date(2022, 11, 10),
                  description="FTX collapse: withdrawals halted, SOL down 50 %"),
)
