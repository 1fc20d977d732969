"""`[metrics]` of quantdesk.toml: the bearer token that guards `/metrics` off 127.0.0.1.

```toml
[metrics]
token_env = "QUANTDESK_METRICS_TOKEN"      # the variable that holds the token ...
# token_file = "/etc/quantdesk/metrics.token"  # ... or a file with it (Prometheus' credentials_file reads the same)
```
The token itself is never written in the file, as venue keys are not.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from quantdesk.core.errors import ConfigError
from quantdesk.core.sections import parse_section

__all__ = ["MetricsConfig"]


class MetricsConfig(BaseModel):
    """Where the metrics bearer token comes from; an unknown key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_env: str | None = None
    token_file: Path | None = None

    @classmethod
    def from_section(cls, section: dict[str, Any] | None) -> MetricsConfig:
        """Return the config of a `[metrics]` section; ConfigError naming the bad key."""
        return parse_section(cls, section, "metrics", "the keys are token_env and token_file")

    @classmethod
    def from_settings(cls) -> MetricsConfig:
        """Return the config from quantdesk.toml's `[metrics]`."""
        from quantdesk.core.settings import get_settings

        return cls.from_section(get_settings().metrics)

    def token(self) -> str | None:
        """Return the token (None: none configured); ConfigError when the named source is empty or missing."""
        if self.token_env:
            value = os.environ.get(self.token_env, "").strip()
            if not value:
                raise ConfigError(f"[metrics] token_env names {self.token_env}, which is not set; export it")
            return value
        if self.token_file:
            try:
                value = self.token_file.expanduser().read_text().strip()
            except OSError as e:
                raise ConfigError(f"[metrics] token_file {self.token_file} cannot be read ({e.strerror}); "
                                  "fix the path or its permissions") from None
            if not value:
                raise ConfigError(f"[metrics] token_file {self.token_file} is empty; write the token into it")
            return value
        return None
