"""`quantdesk user add|passwd|disable|enable|list|roles`: the desk's people, their roles and passwords.

User administration needs an authenticated admin (the very first user, an admin, needs no one).
Passwords are read from a hidden prompt, or from stdin with `--password-stdin`: one line per
secret, the acting admin's password first (when one is asked for), then the new password.
"""

from __future__ import annotations

from typing import Annotated

import typer

from quantdesk.cli import app
from quantdesk.cli._auth import (
    PasswordStdinOption,
    acting_user,
    authorized_actor,
    default_identity,
    read_secret_line,
)
from quantdesk.cli._common import JsonOption, console, emit, handle_errors
from quantdesk.cli.tables import Col, WideOption, print_table

user_app = typer.Typer(help="Users, roles (admin, trader, researcher, viewer) and passwords.", no_args_is_help=True)
app.add_typer(user_app, name="user")

AsOption = Annotated[str | None, typer.Option("--as", help="Act as this admin (needs their password).")]


@user_app.command("add")
@handle_errors
def user_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option("--role", help="admin, trader, researcher or viewer.")],
    actor: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    no_password: Annotated[bool, typer.Option("--no-password", help="Add without a password (cannot log in or approve).")] = False,
    json_output: JsonOption = False,
) -> None:
    """Add a user with a role and a password, or change their role (an authenticated admin; the first user is an admin).

    Example: printf '%s\\n%s\\n' "$ADMIN_PW" "$CAROL_PW" | quantdesk user add carol --role trader --as alice --password-stdin
    """
    from quantdesk.identity import add_user, list_users
    from quantdesk.identity.policy import Action
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        if list_users(ledger):
            who = authorized_actor(ledger, actor, Action.MANAGE_USERS, password_stdin=password_stdin)
        else:  # the first user: an admin nobody has to vouch for
            who = actor or default_identity()
        password = None if no_password else read_secret_line(
            f"new password for {name}", from_stdin=password_stdin, confirm=True)
        user = add_user(ledger, name, role, actor=who, password=password)
    if json_output:
        emit(user)
    else:
        console.print(f"user {user.name} has role {user.role.value}"
                      + ("" if user.has_password else " (no password: cannot log in, approve or trade)"))


@user_app.command("passwd")
@handle_errors
def user_passwd(
    name: Annotated[str, typer.Argument(help="Whose password to set.")],
    actor: AsOption = None,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Set a password: your own (after your current one, if any), or anyone's as an authenticated admin.

    Example: quantdesk user passwd carol --as alice
    """
    from quantdesk.identity import get_user, set_password
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        me = actor or default_identity()
        if me == name and not get_user(ledger, name).has_password:
            who = me  # setting a first password for yourself: nothing to prove it against yet
        elif me != name:  # someone else's password is user administration: the policy, then your password
            from quantdesk.identity.policy import Action

            who = authorized_actor(ledger, actor, Action.MANAGE_USERS, password_stdin=password_stdin)
        else:
            who = acting_user(ledger, actor, password_stdin=password_stdin, always=True)
        password = read_secret_line(f"new password for {name}", from_stdin=password_stdin, confirm=True)
        set_password(ledger, name, password, actor=who)
    console.print(f"password of {name} set by {who}")


def _set_disabled(name: str, disabled: bool, actor: str | None, password_stdin: bool) -> None:
    from quantdesk.identity import set_disabled
    from quantdesk.identity.policy import Action
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        who = authorized_actor(ledger, actor, Action.MANAGE_USERS, password_stdin=password_stdin)
        set_disabled(ledger, name, disabled, actor=who)
    console.print(f"user {name} {'disabled' if disabled else 'enabled'} by {who}")


@user_app.command("disable")
@handle_errors
def user_disable(
    name: Annotated[str, typer.Argument(help="User to disable: no login, no actions.")],
    actor: AsOption = None,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Disable a user (an authenticated admin): they can no longer log in or act.

    Example: quantdesk user disable mallory --as alice
    """
    _set_disabled(name, True, actor, password_stdin)


@user_app.command("enable")
@handle_errors
def user_enable(
    name: Annotated[str, typer.Argument(help="User to enable again.")],
    actor: AsOption = None,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Enable a disabled user again (an authenticated admin).

    Example: quantdesk user enable mallory --as alice
    """
    _set_disabled(name, False, actor, password_stdin)


@user_app.command("list")
@handle_errors
def user_list(json_output: JsonOption = False, wide: WideOption = False) -> None:
    """List users, their roles and whether they can log in (never a password hash).

    Example: quantdesk user list --json
    """
    from quantdesk.identity import list_users
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        users = list_users(ledger)
    if json_output:
        emit(users)
        return
    columns = [Col("name", 0), Col("role", 0), Col("password", 1), Col("disabled", 1), Col("added by", 2)]
    print_table(console, columns, [[u.name, u.role.value, "yes" if u.has_password else "no",
                                    "yes" if u.disabled else "", u.created_by] for u in users], wide=wide)


def roles_markdown() -> str:
    """Return the policy as a Markdown table: one row per action, a column per role (the README shows it)."""
    from quantdesk.identity.policy import Role, policy_rows

    header = ["action", "what", *[r.value for r in Role], "password", "API scope"]
    body = [[str(row["action"]), str(row["description"]),
             *["yes" if r.value in row["roles"] else "-" for r in Role],  # type: ignore[operator]
             "yes" if row["password"] else "-", str(row["token_scope"])] for row in policy_rows()]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths]), *[line(b) for b in body]])


@user_app.command("roles")
@handle_errors
def user_roles(json_output: JsonOption = False) -> None:
    """Print who may do what: every action, the roles that may take it, and whether the CLI asks a password.

    The table is `quantdesk.identity.policy`, the one check behind the CLI, the dashboards and the API.
    "password": the CLI asks the acting user's password even without --as. "API scope": the
    narrowest token scope that carries the action.
    Example: quantdesk user roles --json
    """
    from quantdesk.identity.policy import policy_rows

    if json_output:
        emit(policy_rows())
        return
    print(roles_markdown())  # plain print: a Markdown table, the same text as the README's
