"""Deterministic, atomic Parquet files.

The same frame always gives the same bytes (fixed codec, no timestamps in metadata), so an
idempotent upsert leaves identical checksums. A file is written to a dot-prefixed temporary
in the same folder and moved into place with `os.replace`, so a reader sees the old file or
the new one, never a partial one, and a crash leaves at most a hidden temporary.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from quantdesk.core.errors import LakeError

__all__ = ["COMPRESSION", "PARQUET_WRITE", "atomic_write_parquet", "series_lock"]

# lz4 reads fastest in our benchmark and still halves the size of typical candles.
COMPRESSION = "lz4"
# every lake file is written with these (locally and on S3), so the same rows give the same bytes
PARQUET_WRITE = {"compression": COMPRESSION, "statistics": True, "row_group_size": 1 << 20}


def atomic_write_parquet(frame: pl.DataFrame, path: Path, *, fsync: bool = False) -> None:
    """Write `frame` to `path` atomically (temp file + `os.replace` in the same folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        frame.write_parquet(temp, **PARQUET_WRITE)
        if fsync:
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        if isinstance(e, OSError):
            raise LakeError(
                f"writing {path} failed ({e}); the previous file is intact: fix the cause (disk space, "
                "permissions) and write again"
            ) from e
        raise


@contextlib.contextmanager
def series_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on a series folder, so two writers never interleave an upsert."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
