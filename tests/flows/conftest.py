"""Flows under Prefect: load a flow file as the worker would, and one test server per module."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_flow(name: str) -> ModuleType:
    """Import flows/<name>.py the way Prefect's entrypoint does (by path)."""
    spec = importlib.util.spec_from_file_location(f"flows_{name}", REPO / "flows" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A temporary Prefect server and database for the module's tests (Prefect's own test harness).

    Its log is checked when it stops: an ERROR or a traceback there fails the module's last test.
    """
    from tests.prefect_servers import logged_test_harness

    with logged_test_harness(tmp_path_factory.mktemp("prefect") / "server.log"):
        yield
