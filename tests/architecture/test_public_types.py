"""The one way out has a typed door: no `Any` on the public API of broker, risk and ledger (issue 9)."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterator

import pytest

PACKAGES = ["quantdesk.broker", "quantdesk.risk", "quantdesk.ledger"]


def _functions(obj: object, name: str) -> Iterator[tuple[str, Callable[..., object]]]:
    if inspect.isfunction(obj):
        yield name, obj
        return
    if not inspect.isclass(obj):
        return
    for klass in obj.__mro__:
        if not klass.__module__.startswith("quantdesk"):
            continue
        for attr, member in vars(klass).items():
            if attr.startswith("_") and attr != "__init__":
                continue
            func = member.__func__ if isinstance(member, classmethod | staticmethod) else member
            if inspect.isfunction(func):
                yield f"{name}.{attr}", func


@pytest.mark.parametrize("package", PACKAGES)
def test_public_methods_name_their_types(package: str) -> None:
    module = importlib.import_module(package)
    loose = [
        f"{label}({param}: {annotation})"
        for name in module.__all__
        for label, func in _functions(getattr(module, name), name)
        for param, annotation in func.__annotations__.items()
        if re.search(r"\bAny\b", str(annotation))
    ]
    assert not loose, f"{package} exposes Any on its public API: {loose}"


def test_gated_broker_takes_an_order_intent() -> None:
    from quantdesk.broker import GatedBroker

    assert GatedBroker.submit.__annotations__["intent"] == "OrderIntent"
    assert GatedBroker.submit_many.__annotations__["intents"] == "Sequence[OrderIntent]"
