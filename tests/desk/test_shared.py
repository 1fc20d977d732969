"""The dashboards' shared reads (quantdesk.desk.shared): computed once per change, the same for every user."""

from __future__ import annotations

from contextlib import ExitStack, closing
from pathlib import Path

from quantdesk.desk import DeskFeed, desk_overview, halt, overview
from quantdesk.identity import add_user
from quantdesk.lake import Lake, write_sample
from quantdesk.ledger import Ledger


def _feed(ledger: Ledger) -> DeskFeed:
    # no interval between looks at the change markers: each call sees the latest commit
    return DeskFeed(ledger, Lake(), ledger_check_s=0.0, lake_check_s=0.0)


def test_a_desk_read_is_shared_until_the_ledger_changes_from_another_handle(quantdesk_home: Path) -> None:
    write_sample(Lake(), symbols=1, days=1)
    with Ledger() as ledger, Ledger() as writer, ExitStack() as stack:
        add_user(ledger, "alice", "admin", actor="alice", password="alice-passphrase")
        add_user(ledger, "tina", "trader", actor="alice", password="tina-passphrase")
        feed = stack.enter_context(closing(_feed(ledger)))
        first = feed.overview()
        assert feed.overview() is first, "no change: every session gets the same snapshot, read once"
        halt(writer, "tina")  # another connection, as another process would
        changed = feed.overview()
        assert changed.version != first.version
        assert [s["state"] for s in changed.value["states"]] == ["HALTED"]
        assert feed.overview() is changed


def test_the_shared_part_names_no_user_and_each_user_gets_their_own_heading(quantdesk_home: Path) -> None:
    with Ledger() as ledger:
        add_user(ledger, "alice", "admin", actor="alice", password="alice-passphrase")
        add_user(ledger, "vic", "viewer", actor="alice", password="vic-passphrase")
        shared = desk_overview(ledger)
        assert "alice" not in repr(shared) and "vic" not in repr(shared)
        assert {k: v for k, v in overview(ledger, "vic").items() if k not in ("user", "role")} == shared
        assert (overview(ledger, "vic")["user"], overview(ledger, "vic")["role"]) == ("vic", "viewer")
        with closing(_feed(ledger)) as feed:
            assert feed.trading().value.keys().isdisjoint({"user", "role", "can_halt"})


def test_new_bars_in_the_lake_change_the_market_snapshot(quantdesk_home: Path) -> None:
    lake = Lake()
    write_sample(lake, symbols=1, days=1)
    with Ledger() as ledger, ExitStack() as stack:
        feed = stack.enter_context(closing(_feed(ledger)))
        first = feed.market(exchange="synthetic", symbol="BTC/USDT", timeframe="1m", days=30)
        assert feed.market(exchange="synthetic", symbol="BTC/USDT", timeframe="1m", days=30) is first
        write_sample(lake, symbols=1, days=2)  # one more day of bars
        later = feed.market(exchange="synthetic", symbol="BTC/USDT", timeframe="1m", days=30)
        assert later.version != first.version and later.value["last_ts"] > first.value["last_ts"]


def test_the_ledger_marker_moves_with_each_commit_on_both_backends(db_url: str) -> None:
    with Ledger(db_url) as ledger, Ledger(db_url) as writer, closing(_feed(ledger)) as feed:
        add_user(writer, "alice", "admin", actor="alice", password="alice-passphrase")
        seen = [feed.ledger_version()]
        for _ in range(3):  # commits in quick succession: each one is seen
            halt(writer, "alice")
            seen.append(feed.ledger_version())
        assert len(set(seen)) == len(seen), seen
        assert feed.ledger_version() == seen[-1], "no commit, no change"
