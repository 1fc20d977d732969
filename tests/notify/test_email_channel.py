"""Email through a real SMTP server (aiosmtpd) started by the test: a CLI halt arrives as a mail."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from quantdesk.cli import app


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope.content.decode())  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp(quantdesk_home: Path) -> Iterator[Mailbox]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    url = f"mailto://127.0.0.1:{port}?from=bot@desk.local&to=ops@desk.local&mode=insecure"
    (quantdesk_home / "quantdesk.toml").write_text(f'[notify]\nurls = ["{url}"]\n')
    yield box
    controller.stop()


def test_a_halt_arrives_by_email(smtp: Mailbox, operator: str) -> None:
    result = CliRunner().invoke(app, ["halt", "--reason", "venue incident"])
    assert result.exit_code == 0, result.output
    [mail] = smtp.messages
    assert "Subject: HALTED global" in mail and "To: ops@desk.local" in mail
    assert "venue incident" in mail
    tested = CliRunner().invoke(app, ["notify", "test"])
    assert tested.exit_code == 0 and len(smtp.messages) == 2
