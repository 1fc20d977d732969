"""`[api]` of quantdesk.toml: rate limits, body cap, idempotency window (pydantic at the edge).

```toml
[api]
token_rate_per_s = 10         # each token: sustained requests per second (token bucket) ...
token_burst = 40              # ... and how many may come at once
address_rate_per_s = 20       # each client address, whatever token it sends (or none)
address_burst = 80
max_body_bytes = 65536        # a larger request body is refused with 413
idempotency_hours = 24        # how long an Idempotency-Key's answer is replayed
```
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.core.sections import parse_section

__all__ = ["ApiConfig"]


class ApiConfig(BaseModel):
    """The HTTP API's limits; every key has a default, an unknown key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_rate_per_s: float = Field(default=10.0, gt=0)
    token_burst: int = Field(default=40, ge=1)
    address_rate_per_s: float = Field(default=20.0, gt=0)
    address_burst: int = Field(default=80, ge=1)
    max_body_bytes: int = Field(default=65_536, ge=256)
    idempotency_hours: float = Field(default=24.0, gt=0)

    @classmethod
    def from_section(cls, section: dict[str, Any] | None) -> ApiConfig:
        """Return the config of an `[api]` section; ConfigError naming the bad key."""
        return parse_section(cls, section, "api", "see `quantdesk api serve --help` for the keys")

    @classmethod
    def from_settings(cls) -> ApiConfig:
        """Return the config from quantdesk.toml's `[api]` (defaults where absent)."""
        from quantdesk.core.settings import get_settings

        return cls.from_section(get_settings().api)
