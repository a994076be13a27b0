"""The knowledge commands: index, import, publish, versions, rollback, curated answers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.commands.common import cli_actor, report_invalid, settings_from
from agent.errors import ConfigError


def add_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register index, import, publish, versions, rollback and curated."""
    index = sub.add_parser("index", parents=[common], help="index the knowledge folder (incremental)")
    index.set_defaults(run=_cmd_index)

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

    curated = sub.add_parser("curated", parents=[common], help="the support leads' curated answers")
    curated.add_argument("action", choices=["list", "remove"], help="list them (state, uses), or remove one")
    curated.add_argument("id", type=int, nargs="?", help="remove: the answer's id (from the list)")
    curated.set_defaults(run=_cmd_curated)


def _cmd_index(args: argparse.Namespace) -> int:
    from agent.wiring import build_services

    staff = build_services(settings_from(args)).staff_services
    kb = staff.knowledge()
    report_invalid(kb)
    report = staff.reindex(cli_actor(), kb)
    print(f"index: {report.summary()}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from agent.staff.importing import KnowledgeImports
    from agent.wiring import build_services

    settings = settings_from(args)
    imports = KnowledgeImports(settings, build_services(settings).audit)
    into = args.into.resolve() if args.into else None
    for file, take in ((args.take_source, True), (args.keep_mine, False)):
        if file:
            imports.resolve(Path(file).name, take_source=take, actor=cli_actor(), into=into)
            print(f"{Path(file).name}: {'the source version taken' if take else 'your version kept'}")
            return 0
    if args.conflicts:
        for conflict in imports.conflicts(into):
            print(f"{conflict.file}  (source changed {conflict.since}; --take-source or --keep-mine)")
        return 0
    if args.sync:
        reports = imports.sync_all(cli_actor())
    elif args.source:
        reports = [
            imports.run(
                args.source,
                cli_actor(),
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


def _cmd_publish(args: argparse.Namespace) -> int:
    from agent.wiring import build_services

    if bool(args.ids) == args.all_drafts:
        raise ConfigError("publish needs article ids or --all-drafts (not both)")
    publishing = build_services(settings_from(args)).staff_services.publishing
    change = publishing.publish(args.ids, cli_actor(), all_drafts=args.all_drafts)
    for article_id in change.ids:
        print(f"published {article_id} (version {change.versions.get(article_id, '?')})")
    print(f"index: {change.index.summary()}")
    return 0


def _cmd_versions(args: argparse.Namespace) -> int:
    from agent.wiring import build_services

    publishing = build_services(settings_from(args)).staff_services.publishing
    if args.diff:
        print(publishing.diff(args.id, *args.diff) or "(the same text)", end="")
        return 0
    for version in publishing.history(args.id):
        print(f"v{version.version:<4} {version.at} {version.actor:<20} {version.reason:<18} {version.path}")
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from agent.wiring import build_services

    publishing = build_services(settings_from(args)).staff_services.publishing
    new = publishing.rollback(args.id, args.to, cli_actor())
    print(
        f"{new.article_id}: the text of version {args.to} is back (now version {new.version}); index updated"
    )
    return 0


def _cmd_curated(args: argparse.Namespace) -> int:
    from agent.wiring import build_services

    staff = build_services(settings_from(args)).staff_services
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
    staff.curated.remove(args.id, cli_actor())
    print(f"removed curated answer {args.id}")
    return 0
