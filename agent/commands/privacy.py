"""The privacy officer's commands: data-subject rights and records, backups, the audit trail."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent.commands.common import cli_actor, confirmed, settings_from
from agent.errors import ConfigError

# privacy action -> its DataSubjects.limit_processing request
_LIMITS = {
    "restrict": "restrict",
    "lift-restriction": "lift",
    "object": "object",
    "withdraw-objection": "unobject",
}


def add_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register privacy, backup and audit."""
    privacy = sub.add_parser("privacy", parents=[common], help="data-subject requests and retention")
    privacy.add_argument(
        "action",
        choices=[
            "export",
            "erase",
            "rectify",
            *_LIMITS,
            "purge",
            "record",
            "dpia",
            "subprocessors",
            "replay-erasures",
            "incident",
        ],
        help="a subject's rights (export, erase, rectify, restrict / lift-restriction, object / "
        "withdraw-objection), purge everything past its retention period, print the Art. 30 record, the "
        "DPIA inputs or the subprocessor list (from the live configuration), erase again after a "
        "database restore everyone erased since, the facts and draft of a breach notification (Art. 33)",
    )
    privacy.add_argument("--since", help="incident: start of the period to examine (ISO date or time, UTC)")
    privacy.add_argument("--message", type=int, help="rectify: the message number (from the export)")
    privacy.add_argument("--ticket", type=int, help="rectify: the handoff ticket whose contact to correct")
    privacy.add_argument(
        "--since-seq", type=int, help="replay-erasures: the audit entry number the backup was taken at"
    )
    privacy.add_argument("--subject", help="the customer's reference code (export, erase, rectify, …)")
    privacy.add_argument("--out", type=Path, help="export: write the JSON here instead of printing it")
    privacy.add_argument("--yes", action="store_true", help="erase without asking (for scripts)")
    privacy.set_defaults(run=_cmd_privacy)

    backup = sub.add_parser("backup", parents=[common], help="back up or restore the stored conversations")
    backup.add_argument("action", choices=["create", "restore"], help="write a backup, or restore one")
    backup.add_argument("--to", type=Path, help="create: a new or empty folder for the backup")
    backup.add_argument("--from", dest="source", type=Path, help="restore: the backup folder")
    backup.add_argument("--yes", action="store_true", help="restore without asking (for scripts)")
    backup.set_defaults(run=_cmd_backup)

    audit = sub.add_parser("audit", parents=[common], help="check or show the audit trail")
    audit.add_argument("action", choices=["verify", "list"], help="verify the hash chain, or list entries")
    audit.add_argument("--last", type=int, default=50, help="list: how many of the newest entries")
    audit.set_defaults(run=_cmd_audit)


def _cmd_privacy(args: argparse.Namespace) -> int:
    from agent.privacy.dpia import dpia_draft
    from agent.privacy.records import processing_record, subprocessor_list
    from agent.wiring import build_services

    settings = settings_from(args)
    documents = {"record": processing_record, "dpia": dpia_draft, "subprocessors": subprocessor_list}
    if args.action in documents:
        print(documents[args.action](settings), end="")
        return 0
    subjects = build_services(settings).subjects
    if args.action == "purge":
        print(json.dumps(subjects.purge(actor=cli_actor()), indent=2))
        return 0
    if args.action == "replay-erasures":
        from agent.privacy.backup import replay_erasures_since

        if args.since_seq is None:
            raise ConfigError("privacy replay-erasures needs --since-seq N (the audit entry of the backup)")
        erased = replay_erasures_since(subjects.store, subjects.audit, args.since_seq, cli_actor())
        print(json.dumps({"subjects_erased_again": erased}, indent=2))
        return 0
    if args.action == "incident":
        from agent.privacy.incidents import incident_report, parse_since

        facts, draft = incident_report(settings, subjects, parse_since(args.since), cli_actor())
        print(json.dumps(facts.as_dict(), indent=2, ensure_ascii=False))
        print()
        print(draft, end="")
        return 0
    if not args.subject:
        raise ConfigError(f"privacy {args.action} needs --subject REFERENCE-CODE")
    if args.action == "export":
        data = json.dumps(subjects.export(args.subject, actor=cli_actor()), ensure_ascii=False, indent=2)
        if args.out:
            args.out.write_text(data + "\n", encoding="utf-8")
            args.out.chmod(0o600)
            print(f"written: {args.out}")
        else:
            print(data)
        return 0
    if args.action in _LIMITS:
        limits = subjects.limit_processing(args.subject, _LIMITS[args.action], cli_actor())
        print(json.dumps({"restricted_since": limits.restricted_at, "objected_since": limits.objected_at}))
        return 0
    if args.action == "rectify":
        if (args.message is None) == (args.ticket is None):
            raise ConfigError("privacy rectify needs --message N or --ticket N (numbers from the export)")
        # The corrected text is personal data: from standard input, never on the command line.
        text = sys.stdin.read().strip()
        if args.message is not None:
            subjects.rectify_message(args.subject, args.message, text, cli_actor())
        else:
            subjects.rectify_contact(args.subject, args.ticket, text, cli_actor())
        print("corrected")
        return 0
    subjects.known(args.subject)  # a typo is reported before anyone is asked to confirm
    if not args.yes and not confirmed(
        f"Erase every stored message of {args.subject}? This cannot be undone."
    ):
        print("nothing erased")
        return 1
    print(json.dumps(subjects.erase(args.subject, actor=cli_actor()), indent=2))
    return 0


def _cmd_backup(args: argparse.Namespace) -> int:
    from agent.privacy.backup import create_backup, describe, restore_backup
    from agent.privacy.subjects import open_keyring

    settings = settings_from(args)
    if args.action == "create":
        if not args.to:
            raise ConfigError("backup create needs --to FOLDER (a new or empty folder)")
        info = create_backup(settings, args.to, _backup_passphrase(confirm=True), cli_actor())
        print(f"backup written to {info.folder}: {len(info.files)} files, audit entry {info.audit_seq}")
        print("The master key is not in the backup: keep a copy of it in a separate safe place.")
        return 0
    if not args.source:
        raise ConfigError("backup restore needs --from FOLDER")
    if not args.yes and not confirmed(
        f"Replace the conversations in {settings.data_dir} with the backup in {args.source}? "
        "Stop the server first. The current files are moved aside, not deleted."
    ):
        print("nothing restored")
        return 1
    passphrase = _backup_passphrase(confirm=False)
    report = restore_backup(settings, args.source, passphrase, open_keyring(settings), cli_actor())
    print(json.dumps(describe(report), indent=2))
    return 0


def _backup_passphrase(*, confirm: bool) -> str:
    """The backup passphrase from SUPPORT_AGENT_BACKUP_PASSPHRASE, else asked (twice for a new backup)."""
    import getpass
    import os

    from agent.privacy.backup import PASSPHRASE_ENV

    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if not sys.stdin.isatty():
        raise ConfigError(f"Set {PASSPHRASE_ENV} or run the command in a terminal to type the passphrase.")
    passphrase = getpass.getpass("Backup passphrase: ")
    if confirm and getpass.getpass("Same passphrase again: ") != passphrase:
        raise ConfigError("The two passphrases differ; nothing was written.")
    return passphrase


def _cmd_audit(args: argparse.Namespace) -> int:
    from agent.wiring import build_services

    staff = build_services(settings_from(args)).staff_services
    if args.action == "list":
        for entry in staff.audit_entries()[-args.last :]:
            details = " ".join(f"{k}={v}" for k, v in entry["details"].items() if k != "digests")
            print(f"{entry['seq']:>6} {entry['at']} {entry['event']:<22} {entry['actor']:<18} {details}")
        return 0
    report = staff.audit_verify()
    for problem in report.problems:
        print(f"TAMPERED: {problem}")
    state = "intact" if report.ok else "BROKEN"
    pruned = f" ({report.pruned} older entries pruned by retention)" if report.pruned else ""
    print(f"audit trail {state}: {report.entries} entries, head {report.head}{pruned}")
    return 0 if report.ok else 1
