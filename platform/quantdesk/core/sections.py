"""A quantdesk.toml section read into its pydantic model, with a one-line error naming the bad key."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from quantdesk.core.errors import ConfigError

__all__ = ["parse_section"]

M = TypeVar("M", bound=BaseModel)


def parse_section(model: type[M], section: dict[str, Any] | None, name: str, hint: str) -> M:
    """Return `model` built from the `[name]` section (defaults where absent); ConfigError "[name] key: why; hint"."""
    try:
        return model(**(section or {}))
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"[{name}] {key}: {first['msg']}; {hint}") from None
