"""Runner leases: one runner per deployment; a dead runner's lease lapses and is taken over (audited)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.core.errors import ConfigError, LeaseHeldError
from quantdesk.ledger import Ledger
from quantdesk.ledger.leases import acquire_lease, lease_of, release_lease, renew_lease
from quantdesk.live.lease import RunnerLease, lease_seconds

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_live_lease_refuses_a_second_holder_and_an_expired_one_is_taken_over_with_an_audit_entry(
    quantdesk_home: Path,
) -> None:
    with Ledger() as ledger:
        acquire_lease(ledger, "btc", "a", ttl_s=10, now=T0)
        with pytest.raises(LeaseHeldError, match="already has a runner \\(a,"):
            acquire_lease(ledger, "btc", "b", ttl_s=10, now=T0 + timedelta(seconds=9))
        assert acquire_lease(ledger, "btc", "a", ttl_s=10, now=T0 + timedelta(seconds=5)).holder == "a"
        taken = acquire_lease(ledger, "btc", "b", ttl_s=10, now=T0 + timedelta(seconds=16))
        assert taken.holder == "b" and taken.expires_at == T0 + timedelta(seconds=26)
        assert not renew_lease(ledger, "btc", "a", ttl_s=10)  # a is gone for good
        assert not release_lease(ledger, "btc", "a")
        assert lease_of(ledger, "btc").holder == "b"  # type: ignore[union-attr]
        [entry] = [e for e in ledger.audit_log() if e.action == "runner.lease.taken_over"]
        assert entry.actor == "b" and entry.payload["previous_holder"] == "a"
        assert ledger.verify_audit().ok


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 40)), min_size=1, max_size=12))
def test_at_any_moment_at_most_one_holder_has_a_live_lease(tmp_path_factory: pytest.TempPathFactory,
                                                            steps: list[tuple[str, int]]) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('lease') / 'l.db'}"
    with Ledger(url) as ledger:
        now = T0
        owner: tuple[str, datetime] | None = None  # the model: who holds it and until when
        for holder, advance in steps:
            now += timedelta(seconds=advance)
            expected_ok = owner is None or owner[0] == holder or owner[1] <= now
            try:
                acquire_lease(ledger, "d", holder, ttl_s=10, now=now)
                assert expected_ok
                owner = (holder, now + timedelta(seconds=10))
            except LeaseHeldError:
                assert not expected_ok
            row = lease_of(ledger, "d")
            assert row is not None and (row.holder, row.expires_at) == owner


def test_runner_lease_fails_at_once_against_a_holder_that_renews_and_waits_out_a_dead_one(
    quantdesk_home: Path,
) -> None:
    with Ledger() as ledger:
        alive = RunnerLease(ledger, "btc", stop=threading.Event(), ttl_s=1.5).acquire()
        began = time.monotonic()
        with pytest.raises(LeaseHeldError):
            RunnerLease(ledger, "btc", stop=threading.Event(), ttl_s=1.5).acquire(wait_s=30)
        assert time.monotonic() - began < 10  # it saw the renewals, it did not wait 30 s
        alive._done.set()  # the holder dies without releasing (as after SIGKILL): renewals stop
        alive._thread.join()  # type: ignore[union-attr]
        second = RunnerLease(ledger, "btc", stop=threading.Event(), ttl_s=1.5).acquire(wait_s=30)
        assert lease_of(ledger, "btc").holder == second.holder  # type: ignore[union-attr]
        second.release()
        assert lease_of(ledger, "btc") is None


def test_a_runner_whose_lease_is_taken_is_told_to_stop(quantdesk_home: Path) -> None:
    with Ledger() as ledger:
        stop = threading.Event()
        lease = RunnerLease(ledger, "btc", stop=stop, ttl_s=1.2).acquire()
        acquire_lease(ledger, "btc", "intruder", ttl_s=60, now=datetime.now(UTC) + timedelta(seconds=5))
        assert stop.wait(5) and lease.lost
        lease.release()
        assert lease_of(ledger, "btc").holder == "intruder"  # type: ignore[union-attr]


def test_lease_period_comes_from_the_environment_and_bad_values_say_how_to_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANTDESK_RUNNER_LEASE_S", "7")
    assert lease_seconds() == 7
    monkeypatch.setenv("QUANTDESK_RUNNER_LEASE_S", "soon")
    with pytest.raises(ConfigError, match="seconds >= 1"):
        lease_seconds()
