"""Atomic writes: a failure or a crash mid-write never leaves or shows a partial file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

from quantdesk.core.errors import LakeError
from tests.lake.lake_helpers import candles, checksums, make_lake, visible_files

SERIES = {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1m"}


def test_a_failure_in_the_middle_of_a_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = make_lake(tmp_path)
    old = candles(list(range(100)))
    lake.write(old, **SERIES)
    before = checksums(tmp_path)

    def half_written(self: pl.DataFrame, file: object, **kwargs: object) -> None:
        Path(str(file)).write_bytes(b"PAR1 half a file")  # the bytes a crash would leave
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", half_written)
    with pytest.raises(LakeError, match="previous file is intact"):
        lake.write(candles(list(range(50, 150)), seed=5), **SERIES)
    monkeypatch.undo()
    assert checksums(tmp_path) == before
    assert not [p for p in tmp_path.rglob("*.tmp")]
    assert lake.candles("BTC/USDT", "1m").equals(old)


_WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {helpers!r})
    from lake_helpers import candles, make_lake
    from pathlib import Path
    lake = make_lake(Path({root!r}))
    frames = [candles(list(range(0, 40 * 1440, 2)), seed=s) for s in (1, 2)]
    print("ready", flush=True)
    i = 0
    while True:
        lake.write(frames[i % 2], exchange="binance", symbol="BTC/USDT", timeframe="1m")
        i += 1
    """
)


def test_a_killed_writer_leaves_only_complete_files(tmp_path: Path) -> None:
    script = _WRITER.format(helpers=str(Path(__file__).parent), root=str(tmp_path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for delay in (0.3, 0.7):
        with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env) as proc:
            assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
            time.sleep(delay)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        for path in visible_files(tmp_path):
            if path.suffix == ".parquet":
                frame = pl.read_parquet(path)  # a partial file would not parse
                assert frame.height > 0 and frame.get_column("ts").is_sorted()
    lake = make_lake(tmp_path)
    stored = lake.candles("BTC/USDT", "1m")
    assert stored.height in (0, 28_800)
    assert stored.get_column("ts").is_unique().all()
