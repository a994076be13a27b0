"""`support-agent`: a thin command layer over the library. The command groups live in agent/commands/;
this module parses, hardens the process first and runs one command."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from agent.commands import knowledge, privacy, staff
from agent.commands.common import report_invalid, settings_from
from agent.errors import AgentError
from agent.runtime.process import harden_process
from agent.settings import Settings


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
        harden_process(settings_from(args), guard_egress=args.run is not _cmd_models)


def _simulation_settings(args: argparse.Namespace) -> Settings:
    """The live settings for a simulation (its --data-dir names the simulation's own index instead)."""
    return settings_from(argparse.Namespace(**{k: v for k, v in vars(args).items() if k != "data_dir"}))


def _cmd_models(args: argparse.Namespace) -> int:
    from agent.runtime.models import fetch, load_manifest, verify

    settings = settings_from(args)
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


def _cmd_ask(args: argparse.Namespace) -> int:
    from agent.wiring import build_services

    agent = build_services(settings_from(args)).agent
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
    report_invalid(kb)
    summary = run_simulation(agent, questions, args.out, kb=kb, retrieval_only=args.retrieval_only)
    print(json.dumps(summary["overall"], indent=2))
    print(f"written: {args.out / 'results.jsonl'}, {args.out / 'summary.json'}, {args.out / 'report.html'}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from ui.app import serve

    serve(settings_from(args))
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

    knowledge.add_commands(sub, common)
    privacy.add_commands(sub, common)
    staff.add_commands(sub, common)

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

    serve = sub.add_parser("serve", parents=[common], help="start the chat page")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 7860)")
    serve.set_defaults(run=_cmd_serve)
    return parser


if __name__ == "__main__":
    sys.exit(main())
