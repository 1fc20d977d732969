"""Settings: environment (`QUANTDESK_*`) over `quantdesk.toml` over defaults.

`QUANTDESK_HOME` (default: the repository's `data/`) holds `lake/`, `quantdesk.db` and
`reports/`. The optional `quantdesk.toml` is found at `QUANTDESK_CONFIG`, else
`./quantdesk.toml`, else `$QUANTDESK_HOME/quantdesk.toml`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from quantdesk.core.errors import ConfigError
from quantdesk.core.home import default_home  # light: the CLI's start-up reads it without pydantic

__all__ = ["Settings", "VenueConfig", "config_path", "default_home", "get_settings"]

_REPO_ROOT = Path(__file__).resolve().parents[3]


def config_path() -> Path:
    """Return where `quantdesk.toml` is read from (and where `venue add` writes)."""
    explicit = os.environ.get("QUANTDESK_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    local = Path.cwd() / "quantdesk.toml"
    if local.exists():
        return local
    home = os.environ.get("QUANTDESK_HOME")
    return (Path(home).expanduser() if home else default_home()) / "quantdesk.toml"


class VenueConfig(BaseModel):
    """A venue: a ccxt exchange, optionally reached at another URL, with credentials from env vars."""

    exchange: str
    api_url: str | None = None
    ws_url: str | None = None  # WebSocket base for ccxt pro streams (a simulated venue's `/stream`)
    sandbox: bool = False
    key_env: str | None = None
    secret_env: str | None = None
    password_env: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = config_path()
        self._data: dict[str, Any] = {}
        if path.exists():
            try:
                self._data = tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(f"{path} is not valid TOML ({e}); fix or remove the file") from e

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    """Everything configurable. Sections of `quantdesk.toml` map to fields of the same name."""

    model_config = SettingsConfigDict(env_prefix="QUANTDESK_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    db_url: str | None = None
    venues: dict[str, VenueConfig] = Field(default_factory=dict)
    risk: dict[str, Any] = Field(default_factory=dict)
    notify: dict[str, Any] = Field(default_factory=dict)
    promotion: dict[str, Any] = Field(default_factory=dict)
    auth: dict[str, Any] = Field(default_factory=dict)  # [auth]: the login throttle (quantdesk.identity.logins)
    api: dict[str, Any] = Field(default_factory=dict)  # [api]: the HTTP API's rate limits and caps (quantdesk.api)
    research: dict[str, Any] = Field(default_factory=dict)  # [[research.jobs]]: the nightly research flow
    lake_url: str | None = None  # QUANTDESK_LAKE_URL: s3://bucket/prefix puts the lake in object storage
    dask: str | None = None  # a Dask scheduler (tcp://HOST:8786): sweeps and walk-forward run there
    flows: dict[str, Any] = Field(default_factory=dict)  # [flows]: ingest schedules, venue rate limits
    arb: dict[str, Any] = Field(default_factory=dict)  # [arb]: taker fees, transfer costs, rates (quantdesk.arb.config)
    metrics: dict[str, Any] = Field(default_factory=dict)  # [metrics]: the /metrics bearer token (quantdesk.metrics.config)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def reports_dir(self) -> Path:
        """`home/reports`, created owner-only (0700): reports name positions and PnL."""
        from quantdesk.core.fsmodes import private_dir

        return private_dir(self.home / "reports")

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def database_url(self) -> str:
        """Return `QUANTDESK_DB_URL`, else the embedded SQLite ledger under home."""
        return self.db_url or f"sqlite:///{self.home / 'quantdesk.db'}"


def get_settings(**overrides: Any) -> Settings:
    """Load settings fresh (env and TOML are re-read on each call, so tests can change them)."""
    try:
        return Settings(**overrides)
    except ValidationError as e:
        raise ConfigError(f"invalid settings: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}") from e
