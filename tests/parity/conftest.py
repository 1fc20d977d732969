"""Fixtures of the parity tests: synthetic candles."""

from __future__ import annotations

import polars as pl
import pytest

from quantdesk.lake import generate_candles
from tests.parity.parity_helpers import SYMBOL


@pytest.fixture(scope="session")
def synthetic_candles() -> pl.DataFrame:
    """Return 1,200 gap-free synthetic 1m candles (labelled synthetic by quantdesk.lake.sample)."""
    frame = generate_candles(SYMBOL, minutes=1_500, seed=11)
    return frame.head(1_200)


