"""Admin (admins only): users and roles, stored exchange keys by fingerprint, venues, notification
channels (redacted), the audit chain verified."""

from __future__ import annotations

import panel as pn
from _tables import table

from quantdesk.desk import admin, shared_ledger


def page() -> pn.viewable.Viewable:
    ledger = shared_ledger()
    data = admin(ledger, pn.state.user)
    if data is None:  # decided on the server from the session's user, not by hiding a link
        return pn.pane.Markdown("# Admin\n\nThis page is for admins only.")
    audit = data["audit"]
    verdict = f"audit chain **{'intact' if audit['ok'] else 'BROKEN'}** ({audit['entries']} entries)"
    return pn.Column("# Admin", "### Users", table(data["users"]), "### Exchange keys", table(data["keys"], "none stored"),
                     "### Venues", table(data["venues"], "no venue: `quantdesk venue add`"),
                     "### Notification channels", table(data["channels"], "none stored: `quantdesk notify channel add`"),
                     "### Audit log", pn.pane.Markdown(verdict), table(audit["recent"]))


if __name__.startswith("bokeh"):
    page().servable()
