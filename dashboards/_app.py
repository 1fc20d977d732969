"""One app around every page: Panel's Bootstrap template with the product's name and logo, a menu of
the pages the user's role may open, the logged-in user with a log-out link, and the trading state as a
coloured badge that follows the ledger on every page.

The menu is `quantdesk.desk.navigation.pages_for(role)`: the registry of pages filtered by the
authorization policy, so no role is decided here. The badge is desk-wide: read once per ledger
change for every open session (`desk_feed`) and redrawn by the process's one watcher
(`_live.keep_current`). Logo, favicon and stylesheet come from the dashboard server's
/assets route; the template uses system fonts, so no page asks another host for anything.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import panel as pn
from _auth import session_id, watch_session
from _live import keep_current
from _tables import DESK_CSS

from quantdesk.desk import desk_feed, shared_ledger
from quantdesk.desk.navigation import PageEntry, pages_for
from quantdesk.identity import get_user

__all__ = ["framed", "state_badge"]

PRODUCT = "quantdesk"
# the template's own layout rules (the document, not a pane's shadow root): a menu row on a phone
TEMPLATE_CSS = (Path(__file__).parent / "assets" / "template.css").read_text()
HEADER_BACKGROUND = "#0f4c81"
ASSETS = "/assets"


def state_badge(states: dict[str, str]) -> str:
    """Return the trading state badge: the global state, and how many other scopes are not ACTIVE."""
    state = states.get("global", "ACTIVE")
    others = sorted(scope for scope, s in states.items() if scope != "global" and s != "ACTIVE")
    more = f' <span class="qd-badge-note">+{len(others)} scope(s) not active</span>' if others else ""
    return (f'<span class="qd-badge qd-state-{html.escape(state)}" title="global trading state">'
            f"Trading {html.escape(state)}</span>{more}")


def _menu(entries: list[PageEntry], current: str) -> str:
    links = "".join(
        f'<a href="{entry.path}" class="{"qd-current" if entry.slug == current else ""}" '
        f'title="{html.escape(entry.summary)}"><span class="qd-icon">{entry.icon}</span>{html.escape(entry.title)}</a>'
        for entry in entries)
    return f'<nav class="qd-nav" aria-label="pages">{links}</nav>'


def _read_states() -> object:
    from quantdesk.core.types import TradingState

    feed = desk_feed()
    ledger = shared_ledger()

    def states() -> dict[str, str]:
        found = {s.scope: TradingState(s.state).value for s in ledger.trading_states()}
        return {"global": TradingState.ACTIVE.value, **found}

    return feed.get("trading-states", feed.ledger_version(), states)


def framed(entry: PageEntry, build: Callable[[], pn.viewable.Viewable]) -> Callable[[], pn.template.BaseTemplate]:
    """Return the session builder that serves `build()`'s content inside the desk's template."""

    def serve() -> pn.template.BaseTemplate:
        me = get_user(shared_ledger(), pn.state.user)  # the session's own user, from the signed login cookie
        found = session_id(pn.state.cookies)
        if found is not None and pn.state.curdoc is not None:  # served: the page ends when the session does
            watch_session(pn.state.curdoc, found)
        badge = pn.pane.HTML("", stylesheets=[DESK_CSS], name="trading-state", margin=(0, 8))
        keep_current(_read_states, lambda states: setattr(badge, "object", state_badge(states)))
        who = pn.pane.HTML(
            f'<div class="qd-header"><span>{html.escape(me.name)} ({html.escape(me.role.value)})</span>'
            f'<a href="/logout">Log out</a></div>', stylesheets=[DESK_CSS], margin=(0, 8))
        menu = pn.pane.HTML(_menu(pages_for(me.role), entry.slug), stylesheets=[DESK_CSS],
                            sizing_mode="stretch_width", name="menu")
        template = pn.template.BootstrapTemplate(
            title=f"{PRODUCT} · {entry.title}", logo=f"{ASSETS}/logo.svg", favicon=f"{ASSETS}/favicon.svg",
            site_url="/", header_background=HEADER_BACKGROUND, sidebar_width=220,
            meta_viewport="width=device-width, initial-scale=1",
        )
        template.config.raw_css.append(TEMPLATE_CSS)
        template.header.extend([pn.FlexBox(badge, who, align_items="center")])
        template.sidebar.append(menu)
        template.main.append(build())
        return template

    serve.__name__ = f"serve_{entry.slug}"
    return serve
