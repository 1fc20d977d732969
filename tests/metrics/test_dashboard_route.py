"""The dashboard server's /metrics: open on 127.0.0.1, a bearer token from [metrics] anywhere else."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from quantdesk.core.errors import ConfigError
from quantdesk.metrics import record_login


async def _get(route: tuple[object, ...], token: str | None = None) -> tuple[int, str]:
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError
    from tornado.web import Application

    server = Application([route]).listen(0, address="127.0.0.1")
    port = next(iter(server._sockets.values())).getsockname()[1]
    client = AsyncHTTPClient(force_instance=True)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            answer = await client.fetch(f"http://127.0.0.1:{port}/metrics", headers=headers)
            return answer.code, answer.body.decode()
        except HTTPClientError as e:
            return e.code, e.response.body.decode() if e.response is not None else ""
    finally:
        client.close()
        server.stop()
        await server.close_all_connections()


def _route(host: str) -> tuple[object, ...]:
    from quantdesk.cli.metrics import metrics_route

    return metrics_route(host, None)


def test_bound_to_localhost_it_needs_no_login(fresh_metrics: None) -> None:
    record_login(accepted=False)
    code, body = asyncio.run(_get(_route("127.0.0.1")))
    assert code == 200 and 'quantdesk_logins_total{outcome="refused"} 1.0' in body


def test_bound_elsewhere_it_needs_the_bearer_token(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                   fresh_metrics: None) -> None:
    (quantdesk_home / "quantdesk.toml").write_text('[metrics]\ntoken_env = "QD_METRICS_TOKEN"\n')
    monkeypatch.setenv("QD_METRICS_TOKEN", "s3cret-token")
    route = _route("0.0.0.0")
    assert asyncio.run(_get(route))[0] == 401
    assert asyncio.run(_get(route, token="wrong"))[0] == 401
    code, body = asyncio.run(_get(route, token="s3cret-token"))
    assert code == 200 and "quantdesk_metrics_contract_info" in body


def test_bound_elsewhere_without_a_token_it_refuses_everyone(fresh_metrics: None) -> None:
    code, body = asyncio.run(_get(_route("0.0.0.0")))
    assert code == 403 and "[metrics]" in body


def test_a_token_variable_that_is_not_set_fails_at_start(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (quantdesk_home / "quantdesk.toml").write_text('[metrics]\ntoken_env = "QD_METRICS_TOKEN"\n')
    monkeypatch.delenv("QD_METRICS_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="QD_METRICS_TOKEN"):
        _route("0.0.0.0")
