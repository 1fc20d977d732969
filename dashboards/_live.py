"""Pages that stay current: redraw a session's panes when the desk-wide data they show has changed.

One watcher per server process (not one timer per session) looks at the ledger's and lake's
change markers every WATCH_MS (`quantdesk.desk.desk_feed`: a SQLite ledger's PRAGMA data_version, a few
folder mtimes). Only when a marker moved does it ask each open session to read its snapshot
again; the feed computes each desk-wide read once per change for all of them, and a session
redraws only if the snapshot's version differs from the one it drew. Idle pages cost the
server ten cheap checks a second in all, whatever the number of viewers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import partial
from typing import Any

import panel as pn
from bokeh.document import Document
from panel.io.state import set_curdoc
from tornado.ioloop import PeriodicCallback

from quantdesk.desk import Snapshot, desk_feed

__all__ = ["WATCH_MS", "keep_current"]

# how often the process looks for a change: a change reaches open pages within about this long
WATCH_MS = 100

_sessions: dict[Document, list[Callable[[], None]]] = {}  # open session -> its redraw checks
_watcher: PeriodicCallback | None = None
_last_mark: list[Hashable] = [None]


def keep_current(read: Callable[[], Snapshot], draw: Callable[[Any], None]) -> Snapshot:
    """Draw `read()` now, then again in this session whenever its version changes; return the first snapshot."""
    first = read()
    drawn: list[Hashable] = [first.version]
    draw(first.value)

    def check() -> None:
        snapshot = read()
        if snapshot.version != drawn[0]:
            drawn[0] = snapshot.version
            draw(snapshot.value)

    doc = pn.state.curdoc
    if doc is not None and doc.session_context is not None:  # served (not a script or test)
        if doc not in _sessions:
            pn.state.on_session_destroyed(lambda _context: _sessions.pop(doc, None))
        _sessions.setdefault(doc, []).append(check)
        _start_watcher()
    return first


def _start_watcher() -> None:
    global _watcher
    if _watcher is None:  # on the server's event loop: sessions are created there
        _watcher = PeriodicCallback(_look, WATCH_MS)
        _watcher.start()


def _look() -> None:
    mark = desk_feed().marker()
    if mark == _last_mark[0]:
        return
    _last_mark[0] = mark
    for doc, checks in list(_sessions.items()):
        doc.add_next_tick_callback(partial(_redraw, doc, checks))  # under that session's document lock


def _redraw(doc: Document, checks: list[Callable[[], None]]) -> None:
    with set_curdoc(doc):  # Panel sends the changed panes to this session's browser
        for check in checks:
            check()
