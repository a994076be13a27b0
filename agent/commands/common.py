"""What every command group shares: settings from the arguments, who runs a command, confirmations."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from agent.settings import Settings, load_settings

if TYPE_CHECKING:
    from agent.knowledge.articles import KnowledgeBase


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings, with --data-dir, --knowledge-dir, … from the command line over file and environment."""
    overrides = {
        key: value for key, value in vars(args).items() if key in Settings.model_fields and value is not None
    }
    return load_settings(**overrides)


def cli_actor() -> str:
    """Who runs a staff command, for the audit trail."""
    import getpass

    return f"cli:{getpass.getuser()}"


def confirmed(question: str) -> bool:
    """True when the person at the terminal types 'yes'."""
    try:
        return input(f"{question} Type 'yes' to confirm: ").strip().lower() == "yes"
    except EOFError:
        return False


def report_invalid(kb: KnowledgeBase) -> None:
    """Every skipped article file and why (file and field), and how many, on stderr."""
    for problem in kb.problems:
        print(f"skipped (invalid): {problem}", file=sys.stderr)
    if kb.problems:
        print(
            f"{len(kb.problems)} invalid article file(s) skipped; {len(kb.articles)} valid", file=sys.stderr
        )
