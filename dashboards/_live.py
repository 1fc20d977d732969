"""Pages that stay current: redraw a session's panes when the desk-wide data they show has changed.

Each open session polls `quantdesk.desk.desk_feed()` from a periodic callback. The poll is
nearly free (the feed looks at the ledger's and lake's change markers once per process, not
per session, and computes each desk-wide read once per change); a session redraws only when
the snapshot's version differs from the one it drew, so idle pages cost the server nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import panel as pn

from quantdesk.desk import Snapshot

__all__ = ["REFRESH_MS", "keep_current"]

# how often an open page asks whether something changed: a change shows within about this long
REFRESH_MS = 250


def keep_current(read: Callable[[], Snapshot], draw: Callable[[Any], None], *,
                 period_ms: int = REFRESH_MS) -> Snapshot:
    """Draw `read()` now, then again in this session whenever its version changes; return the first snapshot."""
    first = read()
    drawn: list[Hashable] = [first.version]
    draw(first.value)

    def poll() -> None:
        snapshot = read()
        if snapshot.version != drawn[0]:
            drawn[0] = snapshot.version
            draw(snapshot.value)

    if pn.state.curdoc is not None:  # served: the callback ends with the session
        pn.state.add_periodic_callback(poll, period=period_ms)
    return first
