"""Owner-only files and folders for what the desk keeps at rest (issue 23).

The ledger holds password hashes and encrypted keys, the master key decrypts those, the
cookie secret signs dashboard sessions and reports name positions and PnL: none of them may
be readable by other users of the machine. Modes are set explicitly after creation (chmod),
so a permissive umask (0000) cannot widen them; only what we create is changed, never an
existing file the operator chose a mode for (that gets a warning with the fix instead).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["FILE_MODE", "FOLDER_MODE", "create_private_file", "loose", "private_dir", "warn_loose"]

FILE_MODE = 0o600
FOLDER_MODE = 0o700

log = logging.getLogger("quantdesk.security")
_warned: set[str] = set()


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700 folders; an existing folder keeps its mode."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it first: theirs stands
            folder.mkdir(mode=FOLDER_MODE)
            os.chmod(folder, FOLDER_MODE)  # mkdir's mode is masked by the umask; chmod is not
    return path


def create_private_file(path: Path) -> bool:
    """Create an empty 0600 file at `path` unless one exists; return True if this call created it."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def loose(paths: Iterable[Path]) -> list[tuple[Path, int]]:
    """Return (path, mode) of each existing path that group or others may access."""
    found = []
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            mode = p.stat().st_mode & 0o777
            if mode & 0o077:
                found.append((p, mode))
    return found


def warn_loose(what: str, paths: Iterable[Path]) -> str | None:
    """Log ONE warning line (once per process and file) naming the `chmod` that fixes loose modes."""
    found = loose(paths)
    if not found:
        return None
    key = str(found[0][0])
    modes = ", ".join(f"{p.name} {m:o}" for p, m in found)
    line = (f"{what} is readable by other users ({modes}); fix: chmod 600 "
            + " ".join(str(p) for p, _ in found))
    if key not in _warned:
        _warned.add(key)
        log.warning(line)
    return line
