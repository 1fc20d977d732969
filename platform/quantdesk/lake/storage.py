"""Where the lake's files live: a local folder, or S3-compatible object storage.

The lake's code works on paths (`root / "exchange=..." / ...`) and asks its storage to do the
file operations. Two storages:

- `LocalStorage`: a folder. Writes go to a hidden temporary and `os.replace` into place, a
  series is locked with `flock` while it is upserted, a folder listing is cached until the
  folder's mtime changes (this is the lake as it always was).
- `S3Storage`: `s3://bucket/prefix` through `s3fs` (fsspec), for S3, MinIO, moto... A PUT
  replaces an object atomically, so readers see the old file or the new one; a series is
  locked per process (object stores have no cross-process lock: run one writer per series,
  which is what the ingest flow does). Reads go through polars' native object store reader
  and DuckDB (with s3fs registered, no httpfs download needed).

Configure with `QUANTDESK_LAKE_URL=s3://bucket/prefix`; the endpoint and keys come from the
usual AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL` for a
non-AWS server, `AWS_DEFAULT_REGION`).
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import polars as pl

from quantdesk.core.errors import ConfigError, LakeError
from quantdesk.lake.parquet_io import PARQUET_WRITE, atomic_write_parquet, series_lock

__all__ = ["LocalStorage", "S3Storage", "Storage", "open_storage"]

LakePath = Path | PurePosixPath


class Storage(Protocol):
    """The file operations the lake needs."""

    def exists(self, path: LakePath) -> bool: ...

    def subdirs(self, folder: LakePath, prefix: str) -> list[LakePath]: ...

    def files(self, folder: LakePath) -> list[LakePath]: ...

    def parquet_files_under(self, folder: LakePath) -> list[LakePath]: ...

    def version(self, folder: LakePath) -> object | None: ...

    def read_parquet(self, path: LakePath | list[LakePath]) -> pl.DataFrame: ...

    def scan_parquet(self, paths: list[LakePath]) -> pl.LazyFrame: ...

    def write_parquet(self, frame: pl.DataFrame, path: LakePath, *, fsync: bool = False) -> None: ...

    def lock(self, folder: LakePath) -> contextlib.AbstractContextManager[None]: ...

    def url(self, path: LakePath) -> str: ...

    def register(self, connection: Any) -> None: ...


class LocalStorage:
    """A local folder (see the module doc)."""

    def exists(self, path: LakePath) -> bool:
        return Path(path).exists()

    def subdirs(self, folder: LakePath, prefix: str) -> list[LakePath]:
        try:
            return sorted(Path(e.path) for e in os.scandir(folder) if e.is_dir() and e.name.startswith(prefix))
        except FileNotFoundError:
            return []

    def files(self, folder: LakePath) -> list[LakePath]:
        try:
            return [Path(e.path) for e in os.scandir(folder) if e.is_file()]
        except FileNotFoundError:
            return []

    def parquet_files_under(self, folder: LakePath) -> list[LakePath]:
        return sorted(p for p in Path(folder).rglob("*.parquet") if not p.name.startswith("."))

    def version(self, folder: LakePath) -> object | None:
        try:
            return Path(folder).stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def read_parquet(self, path: LakePath | list[LakePath]) -> pl.DataFrame:
        return pl.read_parquet(path)

    def scan_parquet(self, paths: list[LakePath]) -> pl.LazyFrame:
        return pl.scan_parquet(paths, hive_partitioning=False)

    def write_parquet(self, frame: pl.DataFrame, path: LakePath, *, fsync: bool = False) -> None:
        atomic_write_parquet(frame, Path(path), fsync=fsync)

    def lock(self, folder: LakePath) -> contextlib.AbstractContextManager[None]:
        return series_lock(Path(folder))

    def url(self, path: LakePath) -> str:
        return str(path)

    def register(self, connection: Any) -> None:
        pass  # DuckDB reads local files itself


class S3Storage:
    """`s3://bucket/prefix` through s3fs (see the module doc). Paths are `bucket/key` pure paths."""

    def __init__(self, *, endpoint_url: str | None = None, key: str | None = None, secret: str | None = None,
                 region: str | None = None) -> None:
        import s3fs

        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        self.key = key or os.environ.get("AWS_ACCESS_KEY_ID")
        self.secret = secret or os.environ.get("AWS_SECRET_ACCESS_KEY")
        self.region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        client_kwargs: dict[str, Any] = {"region_name": self.region}
        if self.endpoint_url:
            client_kwargs["endpoint_url"] = self.endpoint_url
        # listings are never cached: another process may have written since (the lake asks for
        # a folder's files when it reads it, and one LIST is cheap next to reading the objects)
        self.fs = s3fs.S3FileSystem(key=self.key, secret=self.secret, client_kwargs=client_kwargs,
                                    use_listings_cache=False)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @property
    def storage_options(self) -> dict[str, str]:
        """The same credentials and endpoint for polars' object store reader."""
        options = {"aws_region": self.region}
        if self.endpoint_url:
            options["aws_endpoint_url"] = self.endpoint_url
            options["aws_allow_http"] = "true" if self.endpoint_url.startswith("http://") else "false"
        if self.key:
            options["aws_access_key_id"] = self.key
        if self.secret:
            options["aws_secret_access_key"] = self.secret
        return options

    def _call(self, what: str, fn: Any, *args: Any, missing_ok: bool = False, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FileNotFoundError as e:
            if missing_ok:  # an empty folder: the caller answers "nothing here"
                raise
            raise LakeError(f"the lake's object store refused to {what}: {e} (no such bucket or key); check "
                            "QUANTDESK_LAKE_URL and that the bucket exists") from e
        except (OSError, ValueError) as e:  # botocore errors surface as OSError/PermissionError here
            raise LakeError(f"the lake's object store refused to {what} ({e}); check QUANTDESK_LAKE_URL, the "
                            "bucket and the AWS_* credentials and endpoint") from e

    def exists(self, path: LakePath) -> bool:
        return bool(self._call("look up an object", self.fs.exists, str(path)))

    def _entries(self, folder: LakePath) -> list[dict[str, Any]]:
        try:
            return self._call("list a folder", self.fs.ls, str(folder), detail=True, missing_ok=True)
        except FileNotFoundError:
            return []

    def subdirs(self, folder: LakePath, prefix: str) -> list[LakePath]:
        found = [PurePosixPath(e["name"]) for e in self._entries(folder) if e["type"] == "directory"]
        return sorted(p for p in found if p.name.startswith(prefix))

    def files(self, folder: LakePath) -> list[LakePath]:
        return [PurePosixPath(e["name"]) for e in self._entries(folder) if e["type"] != "directory"]

    def parquet_files_under(self, folder: LakePath) -> list[LakePath]:
        try:
            found = self._call("list a folder", self.fs.find, str(folder), missing_ok=True)
        except FileNotFoundError:
            return []
        return sorted(PurePosixPath(p) for p in found
                      if p.endswith(".parquet") and not PurePosixPath(p).name.startswith("."))

    def version(self, folder: LakePath) -> object | None:
        return None  # no cheap change marker: list each time

    def url(self, path: LakePath) -> str:
        return f"s3://{path}"

    def read_parquet(self, path: LakePath | list[LakePath]) -> pl.DataFrame:
        paths = path if isinstance(path, list) else [path]
        return self._call("read objects", lambda: pl.read_parquet([self.url(p) for p in paths],
                                                                  storage_options=self.storage_options))

    def scan_parquet(self, paths: list[LakePath]) -> pl.LazyFrame:
        return pl.scan_parquet([self.url(p) for p in paths], hive_partitioning=False,
                               storage_options=self.storage_options)

    def write_parquet(self, frame: pl.DataFrame, path: LakePath, *, fsync: bool = False) -> None:
        # one PUT of the whole file: the object is replaced atomically, never seen half written
        buffer = io.BytesIO()
        frame.write_parquet(buffer, **PARQUET_WRITE)
        self._call("write an object", self.fs.pipe_file, str(path), buffer.getvalue())

    @contextlib.contextmanager
    def lock(self, folder: LakePath) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(str(folder), threading.Lock())
        with lock:
            yield

    def register(self, connection: Any) -> None:
        connection.register_filesystem(self.fs)  # DuckDB reads s3:// through s3fs (offline, no httpfs)


def open_storage(root: str | os.PathLike[str]) -> tuple[Storage, LakePath]:
    """Return the storage and root path for a lake location (a folder, or `s3://bucket/prefix`)."""
    text = str(root)
    if text.startswith("s3://"):
        location = text.removeprefix("s3://").strip("/")
        if not location or location.startswith("/"):
            raise ConfigError(f"lake URL {text!r} names no bucket; use s3://BUCKET/PREFIX")
        return S3Storage(), PurePosixPath(location)
    if "://" in text:
        raise ConfigError(f"lake URL {text!r}: only local folders and s3://BUCKET/PREFIX are supported")
    return LocalStorage(), Path(text).expanduser()
