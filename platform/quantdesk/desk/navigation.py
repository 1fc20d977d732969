"""The desk's pages as one registry: what the dashboard server serves and what each user's menu lists.

A page is one `PageEntry` here plus its file `dashboards/<slug>.py` (a `page()` function):
the server serves exactly these pages, every page's menu is built from this list, and who
sees an entry is the authorization policy's answer for the entry's action
(`quantdesk.identity.policy.may`), never a role written here. Hiding an entry is a courtesy:
each page and action checks the session's user on the server again.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantdesk.identity.policy import Action, Role, may

__all__ = ["HOME", "PAGES", "PageEntry", "page_entry", "pages_for"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PageEntry:
    """One page of the desk: its address, its title in the menu, and the action needed to see it."""

    slug: str  # the URL path (/overview) and the file dashboards/<slug>.py
    title: str
    icon: str  # a character drawn beside the title (no icon font: nothing to fetch from another host)
    action: Action = Action.VIEW
    summary: str = ""

    @property
    def path(self) -> str:
        """Return the page's address on the dashboard server."""
        return f"/{self.slug}"


PAGES: tuple[PageEntry, ...] = (
    PageEntry(slug="overview", title="Overview", icon="◎", summary="the desk at a glance"),
    PageEntry(slug="trading", title="Trading", icon="⇅", summary="kill switch, orders, fills"),
    PageEntry(slug="risk", title="Risk", icon="⚠", summary="exposure, limits, denials"),
    PageEntry(slug="deployments", title="Deployments", icon="▶", summary="stages, equity against backtest"),
    PageEntry(slug="market", title="Market", icon="▤", summary="candles and indicators"),
    PageEntry(slug="research", title="Research", icon="∑", summary="runs, sweeps, walk-forwards"),
    PageEntry(slug="data_health", title="Data health", icon="✚", summary="lake coverage and quarantine"),
    PageEntry(slug="arb", title="Arbitrage", icon="⇄", summary="executable spreads the scanner found"),
    PageEntry(slug="notifications", title="Notifications", icon="✉", summary="messages and channels"),
    PageEntry(slug="admin", title="Admin", icon="⚙", action=Action.MANAGE_USERS, summary="users, keys, audit"),
)

HOME = PAGES[0]  # what `/` opens


def pages_for(role: Role | str) -> list[PageEntry]:
    """Return the pages a user of `role` may open, in menu order (the policy decides)."""
    return [entry for entry in PAGES if may(role, entry.action)]


def page_entry(slug: str) -> PageEntry:
    """Return the registry's entry for `slug` (KeyError naming the known pages if there is none)."""
    for entry in PAGES:
        if entry.slug == slug:
            return entry
    raise KeyError(f"no page {slug!r}; the pages are {', '.join(p.slug for p in PAGES)}")
