"""The admin's commands: staff accounts of the console and their two-factor login."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from agent.commands.common import cli_actor, settings_from
from agent.errors import ConfigError
from agent.staff.accounts import ROLES

if TYPE_CHECKING:
    from agent.staff.services import StaffServices


TOTP_ACTIONS = ("enable", "disable", "reset")


def add_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register users."""
    users = sub.add_parser("users", parents=[common], help="staff accounts of the console (/admin)")
    users.add_argument(
        "action", choices=["add", "remove", "reset-password", "list", "totp"], help="what to do"
    )
    users.add_argument(
        "username", nargs="?", help="the staff member's user name (totp: enable, disable or reset first)"
    )
    users.add_argument("totp_user", nargs="?", metavar="USERNAME", help="totp: the staff member's user name")
    users.add_argument("--role", choices=ROLES, help="add: the role")
    users.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input (for scripts)"
    )
    users.set_defaults(run=_cmd_users)


def _cmd_users(args: argparse.Namespace) -> int:
    import getpass

    from agent.wiring import build_services

    staff = build_services(settings_from(args)).staff_services
    if args.action == "list":
        for user in staff.users():
            state = "LOCKED" if user.locked else "active"
            two_factor = "2fa" if user.two_factor else "-"
            print(f"{user.username:<24} {user.role:<16} {state:<7} {two_factor:<4} {user.created_at}")
        return 0
    if args.action == "totp":
        return _users_totp(staff, args.username, args.totp_user)
    if not args.username:
        raise ConfigError(f"users {args.action} needs a user name")
    if args.action == "remove":
        staff.remove_user(args.username, cli_actor())
        print(f"removed {args.username}")
        return 0
    # Passwords never on the command line (shell history, process list): stdin or a prompt.
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
    if args.action == "add":
        if not args.role:
            raise ConfigError(f"users add needs --role ({', '.join(ROLES[:-1])} or {ROLES[-1]})")
        staff.add_user(args.username, args.role, password, cli_actor())
        print(f"added {args.username} ({args.role})")
    else:
        staff.reset_password(args.username, password, cli_actor())
        print(f"new password set for {args.username}; the account is unlocked")
    return 0


def _users_totp(staff: StaffServices, what: str | None, username: str | None) -> int:
    """`users totp enable|disable|reset USERNAME`: the secret, QR code and recovery codes are printed once."""
    if what not in TOTP_ACTIONS or not username:
        raise ConfigError(f"usage: users totp {'|'.join(TOTP_ACTIONS)} USERNAME")
    if what == "disable":
        staff.disable_totp(username, cli_actor())
        print(f"two-factor login disabled for {username}")
        return 0
    enrolment = (staff.enable_totp if what == "enable" else staff.reset_totp)(username, cli_actor())
    print(f"Two-factor login {'enabled' if what == 'enable' else 'reset'} for {username}.")
    print("Hand this over to them in person; it is shown only now and stored only encrypted.\n")
    print(f"Authenticator app: scan the QR code, or add the key {enrolment.secret}")
    print(enrolment.qr_terminal())
    print(enrolment.uri)
    print("\nRecovery codes (each works once, instead of a code from the app):")
    for code in enrolment.recovery_codes:
        print(f"  {code}")
    return 0
