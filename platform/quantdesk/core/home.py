"""Where QUANTDESK_HOME defaults to, without loading the settings machinery (pydantic): `--help` stays light."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_home", "home"]

_REPO_ROOT = Path(__file__).resolve().parents[3]


def default_home() -> Path:
    """Return the repository's `data/` when running from a checkout, else `./data`."""
    if (_REPO_ROOT / "pyproject.toml").exists() and (_REPO_ROOT / "platform").is_dir():
        return _REPO_ROOT / "data"
    return Path.cwd() / "data"


def home() -> Path:
    """Return `QUANTDESK_HOME`, else the default home."""
    value = os.environ.get("QUANTDESK_HOME")
    return Path(value).expanduser() if value else default_home()
