"""Every command's --help prints its words as written: nothing in square brackets vanishes as markup (issue 9)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from quantdesk.cli import app

runner = CliRunner()
BRACKETED = re.compile(r"\[[^\]\s][^\]]*\]")


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Walk the command tree (typer ships its own click: duck-type groups by their `commands`)."""
    yield path, group
    if isinstance(getattr(group, "commands", None), dict):
        for name, command in sorted(group.commands.items()):
            yield from _commands(command, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_cli_has_commands_to_check() -> None:
    assert len(COMMANDS) > 30


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "quantdesk" for p, _ in COMMANDS])
def test_help_keeps_bracketed_names(path: tuple[str, ...], command: Any) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    shown = _flat(result.output)
    texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
    for text in texts:
        for token in BRACKETED.findall(text):
            assert _flat(token) in shown, f"`quantdesk {' '.join(path)} --help` lost {token!r}:\n{result.output}"


def test_the_reported_case_reads_as_written() -> None:
    result = runner.invoke(app, ["promote", "--help"], env={"COLUMNS": "120"})
    assert "A [risk.deployments.NAME] section to apply." in _flat(result.output)
