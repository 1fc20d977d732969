"""What the desk's screens show and do, without any UI library: dashboards/ stays thin over this."""

from quantdesk.desk.center import (
    add_subscription,
    download,
    latest_desk_report,
    notifications,
    send_test,
)
from quantdesk.desk.pages import market, research, risk
from quantdesk.desk.shared import DeskFeed, Snapshot, desk_feed, shared_ledger
from quantdesk.desk.views import (
    DeskAction,
    admin,
    data_health,
    decide_promotion,
    deployments,
    desk_overview,
    desk_trading,
    halt,
    overview,
    place_order,
    request_promotion,
    resume,
    trading,
    trading_controls,
)

__all__ = ["DeskAction", "DeskFeed", "Snapshot", "add_subscription", "admin", "data_health", "decide_promotion", "deployments", "desk_feed", "desk_overview", "desk_trading", "download", "halt", "latest_desk_report", "market", "notifications", "overview", "place_order", "request_promotion", "research", "resume", "risk", "send_test", "shared_ledger", "trading", "trading_controls"]
