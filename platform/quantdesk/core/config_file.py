"""Edit `quantdesk.toml` without losing comments or hand-written layout (tomlkit)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import tomlkit

from quantdesk.core.errors import ConfigError

__all__ = ["read_config", "update_config"]


def read_config(path: Path) -> tomlkit.TOMLDocument:
    """Return the TOML document at `path` (an empty one when the file does not exist)."""
    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text())
    except Exception as e:  # tomlkit raises several parse error types
        raise ConfigError(f"{path} is not valid TOML ({e}); fix or remove the file") from e


def update_config(path: Path, section: str, key: str, value: dict[str, Any]) -> None:
    """Set `[section.key]` to `value` and write the file atomically."""
    doc = read_config(path)
    table = doc.get(section)
    if table is None:
        table = tomlkit.table(is_super_table=True)
        doc[section] = table
    entry = tomlkit.table()
    for k, v in value.items():
        if v is not None:
            entry[k] = v
    table[key] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".quantdesk.toml.")
    with os.fdopen(fd, "w") as f:
        f.write(tomlkit.dumps(doc))
    os.replace(tmp, path)
