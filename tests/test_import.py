"""Importing an existing help center as drafts, on real files: a website with a sitemap and robots.txt on
loopback, DOCX and PDF files written here, Zendesk and Freshdesk exports in their API's JSON shape;
incremental re-import with conflicts; the drafts index and (once published) answer with a citation;
the scheduled re-sync; the console's Import tab."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.importing.model import ImportRefused
from agent.importing.run import ImportOptions, import_source
from agent.importing.sync import STATE_FILE, conflicts, resolve_conflict
from agent.importing.website import SitePolicy, check_site
from agent.knowledge.articles import load_knowledge, parse_article
from agent.runtime.egress import installed_guard
from agent.settings import Settings
from agent.staff.importing import KnowledgeImports, import_schedule
from agent.wiring import build_services
from tests.conftest import make_settings
from tests.support import BackgroundServer, console_client, password_login

DATA = Path(__file__).resolve().parent / "data" / "import"
NO_SITES = SitePolicy(jurisdictions={}, allowed=["eu"], allowlist=set())
PASSWORD = "correct horse battery staple"


# a help-center website on loopback -----------------------------------------------------------------
def _page(title: str, lang: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="{lang}"><head><title>{title} | Nordlicht Hilfe</title>'
        '<meta name="date" content="2026-10-01"></head><body>'
        '<nav><a href="/">Home</a> <a href="/en/returns">Returns</a> <a href="/de/versand">Versand</a> '
        '<a href="/private/handbook">Handbook</a></nav>'
        f"<main><article><h1>{title}</h1>{body}</article></main><footer>© Nordlicht</footer></body></html>"
    )


PAGES = {
    "/robots.txt": ("text/plain", "User-agent: *\nDisallow: /private/\n"),
    "/sitemap.xml": (
        "application/xml",
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<sitemap><loc>{root}/sitemap-pages.xml</loc></sitemap></sitemapindex>",
    ),
    "/sitemap-pages.xml": (
        "application/xml",
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>{root}/en/returns</loc><lastmod>2026-10-14</lastmod></url>"
        "<url><loc>{root}/de/versand</loc></url>"
        "<url><loc>{root}/private/handbook</loc></url>"
        "<url><loc>http://elsewhere.example/offers</loc></url></urlset>",
    ),
    "/en/returns": (
        "text/html",
        _page(
            "Returning an item",
            "en",
            "<p>You can return any item within <strong>45 days</strong> of delivery. Returns are free "
            "within Germany and Austria, and we refund the full price of the item.</p>"
            "<h2>How to return</h2><ul><li>Open the order in your account.</li><li>Print the label.</li></ul>"
            '<img src="/label.png" alt="The label">'
            "<table><tr><th>Payment</th><th>Refund within</th></tr><tr><td>Card</td><td>5 days</td></tr>"
            "</table><p>Our current offers are on the <a href='http://elsewhere.example/offers'>offers "
            "page</a>. Shipping costs are explained on the <a href='/de/versand'>Versand</a> page.</p>",
        ),
    ),
    "/de/versand": (
        "text/html",
        _page(
            "Versandkosten",
            "de",
            "<p>Der Versand innerhalb Deutschlands kostet 4,90 Euro. Ab einem Bestellwert von 50 Euro "
            "ist der Versand kostenlos. Die Lieferung dauert zwei bis drei Werktage.</p>",
        ),
    ),
    "/private/handbook": ("text/html", _page("Handbook", "en", "<p>Internal only.</p>" * 20)),
}


class SiteHandler(BaseHTTPRequestHandler):
    requested: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        SiteHandler.requested.append(self.path)
        root = f"http://127.0.0.1:{self.server.server_port}"
        if self.path not in PAGES:
            self.send_response(404)
            self.end_headers()
            return
        kind, body = PAGES[self.path]
        data = body.replace("{root}", root).encode()
        self.send_response(200)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def website() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SiteHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def _import(source: str | Path, into: Path, **options: Any):  # noqa: ANN202 - ImportReport
    return import_source(str(source), ImportOptions(into=into, delay_s=0, **options), NO_SITES)


def _blocked() -> int:
    guard = installed_guard()
    return len(guard.blocked_attempts()) if guard else 0


def test_website_from_sitemap_honours_robots_and_stays_on_host(website: str, tmp_path: Path) -> None:
    SiteHandler.requested.clear()
    blocked_before = _blocked()
    report = _import(f"{website}/sitemap.xml", tmp_path / "drafts")
    assert report.counts()["created"] == 2 and report.kind == "website"
    assert "/private/handbook" not in SiteHandler.requested  # robots.txt: never fetched
    assert SiteHandler.requested[0] == "/robots.txt"
    assert any("/private/handbook" in line and "robots.txt" in line for line in report.invalid)
    assert any("elsewhere.example" in line and "not on 127.0.0.1" in line for line in report.invalid)
    assert _blocked() == blocked_before  # no attempt to reach another host at all
    kb = load_knowledge(tmp_path)
    assert not kb.problems
    by_id = {a.id: a for a in kb.articles}
    returns = by_id["web-en-returns"]
    assert returns.meta.status == "draft" and returns.meta.language == "en"
    assert returns.meta.url == f"{website}/en/returns" and str(returns.meta.updated) == "2026-10-01"
    assert "## How to return" in returns.body and "- Open the order" in returns.body
    assert (
        "| Card | 5 days |" in returns.body
        and "[offers page](http://elsewhere.example/offers)" in returns.body
    )
    assert "Home" not in returns.body  # navigation left out
    assert "image left out" in returns.body and report.images_dropped == {returns.path.name: 1}
    assert by_id["web-de-versand"].meta.language == "de"


def test_website_from_a_start_page_follows_same_host_links_within_max_pages(
    website: str, tmp_path: Path
) -> None:
    SiteHandler.requested.clear()
    report = _import(f"{website}/en/returns", tmp_path / "all")
    assert sorted(report.created) == [
        "returning-an-item--web-en-returns.md",
        "versandkosten--web-de-versand.md",
    ]
    assert "/private/handbook" not in SiteHandler.requested
    bounded = _import(f"{website}/en/returns", tmp_path / "all", max_pages=1)
    assert bounded.counts()["unchanged"] == 1
    assert any("beyond max pages (1)" in line for line in bounded.invalid)
    assert bounded.removed == []  # a page not read this time is not "removed at the source"


def test_an_undeclared_host_is_refused_before_any_request(tmp_path: Path) -> None:
    blocked_before = _blocked()
    with pytest.raises(ImportRefused, match="no declared jurisdiction"):
        _import("https://help.example.com/sitemap.xml", tmp_path)
    declared = SitePolicy({"help.example.com": "eu"}, ["eu"], set())
    with pytest.raises(ImportRefused, match="import_sources"):
        check_site("https://help.example.com/sitemap.xml", declared)
    with pytest.raises(ImportRefused, match="must use TLS"):
        check_site("http://help.example.com/sitemap.xml", declared)
    us = SitePolicy({"help.example.com": "us"}, ["eu"], {"help.example.com"})
    with pytest.raises(ImportRefused, match="only eu is allowed"):
        check_site("https://help.example.com/", us)
    assert _blocked() == blocked_before and not list(tmp_path.iterdir())  # nothing asked, nothing written

    with pytest.raises(
        ValueError, match="import_sources: the endpoint https://help.example.com has no declared"
    ):
        make_settings(tmp_path, import_sources=[{"source": "https://help.example.com/"}])
    settings = make_settings(
        tmp_path,
        import_sources=[{"source": "https://help.example.com/sitemap.xml"}],
        endpoint_jurisdictions={"help.example.com": "eu"},
    )
    assert "help.example.com" in settings.egress_allowlist()
    from agent.privacy.records import recipients

    assert any(r.host == "help.example.com" and r.setting == "import_sources" for r in recipients(settings))
    check_site("https://help.example.com/sitemap.xml", KnowledgeImports(settings, None).policy())  # type: ignore[arg-type]


# documents -----------------------------------------------------------------------------------------
def _docx(path: Path) -> None:
    from docx import Document
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from PIL import Image

    document = Document()
    document.add_heading("Exchanging an item", level=1)
    document.add_paragraph("You can exchange an item for another size within 30 days.")
    document.add_heading("What you need", level=2)
    document.add_paragraph("The order number", style="List Bullet")
    document.add_paragraph("The original packaging", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for cell, text in zip(
        table.rows[0].cells + table.rows[1].cells, ["Size", "Fee", "Any", "free"], strict=True
    ):
        cell.text = text
    paragraph = document.add_paragraph("Start the exchange in ")
    rel = paragraph.part.relate_to(
        "https://shop.example.eu/exchange", RELATIONSHIP_TYPE.HYPERLINK, is_external=True
    )
    link, run, text = OxmlElement("w:hyperlink"), OxmlElement("w:r"), OxmlElement("w:t")
    link.set(qn("r:id"), rel)
    text.text = "your account"
    run.append(text)
    link.append(run)
    paragraph._p.append(link)
    picture = path.with_suffix(".png")
    Image.new("RGB", (8, 8), "red").save(picture)
    document.add_picture(str(picture))
    document.save(str(path))
    picture.unlink()


def _pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(
        0, 8, "Gift cards are valid for three years and can be used for every product in the shop."
    )
    pdf.output(str(path))


def test_docx_and_pdf_files_become_drafts_with_their_structure(tmp_path: Path) -> None:
    source = tmp_path / "handbook"
    source.mkdir()
    _docx(source / "exchange.docx")
    _pdf(source / "gift-cards.pdf")
    (source / "broken.docx").write_bytes(b"not a word file")
    (source / "notes.txt").write_text("plain text", encoding="utf-8")
    (source / "faq").mkdir()
    (source / "faq" / "opening-hours.html").write_text(
        "<h2>Opening hours</h2><p>Our hotline answers <em>Monday to Friday</em>, 8:00 to 18:00.</p>"
        "<ol><li>Call us</li><li>Or write to us</li></ol>",
        encoding="utf-8",
    )
    (source / "faq" / "agents.md").write_text(
        "---\ntitle: Escalations\naudience: internal\n---\nEscalate to the team lead after two days.\n",
        encoding="utf-8",
    )
    report = _import(source, tmp_path / "knowledge" / "drafts", collection="orders", language="en")
    assert report.counts()["created"] == 4
    assert any(line.startswith("broken.docx: cannot be read") for line in report.invalid)
    assert "notes.txt: not an HTML, Markdown, DOCX or PDF file" in report.invalid
    kb = load_knowledge(tmp_path / "knowledge")
    assert not kb.problems
    by_id = {a.id: a for a in kb.articles}
    exchange = by_id["doc-exchange-docx"]
    assert exchange.meta.title == "Exchanging an item" and exchange.meta.collection == "orders"
    assert exchange.body.startswith("# Exchanging an item") and "## What you need" in exchange.body
    assert "- The order number" in exchange.body
    assert "| Any | free |" in exchange.body
    assert "[your account](https://shop.example.eu/exchange)" in exchange.body
    assert "image left out" in exchange.body and report.images_dropped[exchange.path.name] == 1
    gift = by_id["doc-gift-cards-pdf"]
    assert "valid for three years" in gift.body and gift.meta.status == "draft"
    hours = by_id["doc-faq-opening-hours-html"]
    assert (
        hours.meta.title == "Opening hours"
        and "1. Call us" in hours.body
        and "*Monday to Friday*" in hours.body
    )
    assert by_id["doc-faq-agents-md"].meta.audience == "internal"
    assert by_id["doc-faq-agents-md"].meta.title == "Escalations"

    bundle = tmp_path / "handbook.zip"  # the same folder as a .zip: the same articles, the same ids
    shutil.make_archive(str(bundle.with_suffix("")), "zip", source)
    zipped = _import(bundle, tmp_path / "zipped")
    assert sorted(p.name for p in (tmp_path / "zipped").glob("*.md")) == sorted(report.created)
    assert zipped.origin == "handbook.zip"


# helpdesk exports ------------------------------------------------------------------------------------
def test_zendesk_and_freshdesk_exports(tmp_path: Path) -> None:
    into = tmp_path / "knowledge" / "drafts"
    zendesk = _import(DATA / "zendesk-articles.json", into)
    freshdesk = _import(DATA / "freshdesk-folders.json", into)
    assert (zendesk.kind, zendesk.counts()["created"]) == ("zendesk", 3)
    assert zendesk.invalid == ["article 360001004 [body]: missing or empty"]
    assert (freshdesk.kind, freshdesk.counts()["created"]) == ("freshdesk", 3)
    assert freshdesk.invalid == ["article 48000204 [title]: missing or empty"]
    kb = load_knowledge(tmp_path / "knowledge")
    assert not kb.problems
    meta = {a.id: a.meta for a in kb.articles}
    assert all(m.status == "draft" for m in meta.values())  # a source draft stays a draft, too
    assert meta["zendesk-360001003-en-us"].audience == "internal"  # restricted user segment
    assert meta["freshdesk-48000203"].audience == "internal"  # folder for agents only
    assert meta["zendesk-360001001-en-us"].audience == "public"
    assert meta["zendesk-360001002-de"].language == "de" and meta["freshdesk-48000202"].language == "de"
    assert str(meta["zendesk-360001001-en-us"].updated) == "2026-10-14"
    assert meta["zendesk-360001001-en-us"].url.startswith("https://nordlicht.zendesk.com/hc/en-us/")
    plain = tmp_path / "folder-articles.json"  # one folder's articles, as the API lists them
    folders = json.loads((DATA / "freshdesk-folders.json").read_text(encoding="utf-8"))["folders"]
    plain.write_text(json.dumps(folders[0]["articles"]), encoding="utf-8")
    assert _import(plain, tmp_path / "plain").counts()["created"] == 2
    with pytest.raises(ImportRefused, match="neither a Zendesk Guide export"):
        (tmp_path / "other.json").write_text('{"tickets": []}', encoding="utf-8")
        _import(tmp_path / "other.json", into)


def test_reimport_is_incremental_and_never_overwrites_a_local_edit(tmp_path: Path) -> None:
    export = json.loads((DATA / "zendesk-articles.json").read_text(encoding="utf-8"))
    source = tmp_path / "export.json"
    into = tmp_path / "drafts"
    source.write_text(json.dumps(export), encoding="utf-8")
    first = _import(source, into)
    assert first.counts()["created"] == 3
    returns, shipping, internal = (
        into / name for name in sorted(first.created, key=lambda n: n.split("--")[1])
    )
    assert _import(source, into).counts() == {
        **dict.fromkeys(first.counts(), 0),
        "unchanged": 3,
        "invalid": 1,
    }

    # returns: changed at the source only → updated; shipping: changed at both → conflict; internal: removed
    export["articles"][0]["body"] = export["articles"][0]["body"].replace("45 days", "60 days")
    export["articles"][1]["body"] = "<p>Der Versand kostet jetzt 5,90 Euro.</p>"
    del export["articles"][2]
    source.write_text(json.dumps(export), encoding="utf-8")
    local = shipping.read_text(encoding="utf-8").replace("4,90 Euro", "4,90 Euro (Stand Oktober)")
    shipping.write_text(local, encoding="utf-8")
    second = _import(source, into)
    assert (second.updated, second.conflicts, second.removed) == (
        [returns.name],
        [shipping.name],
        [internal.name],
    )
    assert "60 days" in returns.read_text(encoding="utf-8")
    assert shipping.read_text(encoding="utf-8") == local  # the local edit is kept
    assert internal.exists()  # removed at the source: reported, not deleted
    assert _import(source, into).removed == [internal.name]  # … on every run, until it is deleted here
    assert "5,90" not in json.dumps(second.as_dict())  # the report names files, never content
    assert [c.file for c in conflicts(into)] == [shipping.name]

    # the CLI shows the same and says so with its exit code; then the conflict is resolved
    assert main(["import", "--data-dir", str(tmp_path / "data"), str(source), "--into", str(into)]) == 1
    assert main(["import", "--data-dir", str(tmp_path / "data"), "--conflicts", "--into", str(into)]) == 0
    assert (
        main(
            [
                "import",
                "--data-dir",
                str(tmp_path / "data"),
                "--keep-mine",
                shipping.name,
                "--into",
                str(into),
            ]
        )
        == 0
    )
    assert shipping.read_text(encoding="utf-8") == local and not conflicts(into)
    assert _import(source, into).counts()["unchanged"] == 2  # the same source change is not asked again

    export["articles"][1]["body"] = "<p>Der Versand kostet jetzt 6,90 Euro.</p>"  # and changes again
    source.write_text(json.dumps(export), encoding="utf-8")
    assert _import(source, into).conflicts == [shipping.name]  # still edited here: asked again
    resolve_conflict(into, shipping.name, take_source=True)
    assert "6,90 Euro" in shipping.read_text(encoding="utf-8") and not conflicts(into)
    assert parse_article(shipping).meta.status == "draft"
    with pytest.raises(ImportRefused, match="no open import conflict"):
        resolve_conflict(into, shipping.name, take_source=True)
    internal.unlink()
    assert _import(source, into).removed == []
    assert json.loads((into / STATE_FILE).read_text(encoding="utf-8"))["last_report"]["kind"] == "zendesk"


def test_bad_input_is_loud(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "import",
                "--data-dir",
                str(tmp_path / "data"),
                str(tmp_path / "missing.json"),
                "--into",
                str(tmp_path / "d"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    assert (
        main(
            [
                "import",
                "--data-dir",
                str(tmp_path / "data"),
                str(DATA / "zendesk-articles.json"),
                "--into",
                str(tmp_path / "d"),
                "--collection",
                "Not OK",
            ]
        )
        == 2
    )
    assert "cannot be a collection" in capsys.readouterr().err
    assert (
        main(
            [
                "import",
                "--data-dir",
                str(tmp_path / "data"),
                str(DATA / "zendesk-articles.json"),
                "--into",
                str(tmp_path / "d"),
            ]
        )
        == 1
    )
    out = capsys.readouterr()
    assert "skipped (invalid): article 360001004 [body]: missing or empty" in out.err
    assert "created 3, updated 0, unchanged 0, removed 0, conflicts 0, invalid 1" in out.out


# the drafts in the agent -------------------------------------------------------------------------------
def test_imported_drafts_index_and_once_published_answer_with_a_citation(
    tmp_path: Path, embedder: Any, demo_data_dir: Path
) -> None:
    from agent.answering.assistant import SupportAgent
    from agent.answering.guard import GroundingGuard
    from agent.knowledge.index import sync_index
    from agent.wiring import agent_policy, build_generator, build_retriever

    knowledge = tmp_path / "knowledge"
    report = _import(DATA / "zendesk-articles.json", knowledge / "drafts")
    settings = make_settings(tmp_path / "data", knowledge_dir=knowledge)
    indexed = sync_index(load_knowledge(knowledge), embedder, settings.index_dir, progress=False)
    assert sorted(indexed.added) == [
        "zendesk-360001001-en-us",
        "zendesk-360001002-de",
        "zendesk-360001003-en-us",
    ]
    for name in report.created:  # what the publish step does: status draft → published
        path = knowledge / "drafts" / name
        path.write_text(path.read_text(encoding="utf-8").replace("status: draft", "status: published"))
    sync_index(load_knowledge(knowledge), embedder, settings.index_dir, progress=False)
    agent = SupportAgent(
        build_retriever(settings, embedder),
        build_generator(make_settings(demo_data_dir)),
        agent_policy(settings),
        GroundingGuard(embedder),
    )
    answer = agent.ask("How many days do I have to return an item?")
    assert not answer.refused
    assert answer.citations[0].id == "zendesk-360001001-en-us"
    assert (
        answer.citations[0].url
        == "https://nordlicht.zendesk.com/hc/en-us/articles/360001001-Returning-an-item"
    )


# the scheduled re-sync -----------------------------------------------------------------------------------
def test_scheduled_resync_imports_every_source_and_is_audited(website: str, tmp_path: Path) -> None:
    assert import_schedule(make_settings(tmp_path / "off"), None) is None  # type: ignore[arg-type] # off by default
    into = tmp_path / "synced"
    settings = make_settings(
        tmp_path / "data",
        import_sources=[
            {"source": str(tmp_path / "gone"), "into": str(into)},  # fails: the others still run
            {"source": f"{website}/sitemap.xml", "into": str(into), "collection": "faq"},
        ],
        import_sync_hours=24,
        import_delay_s=0,
    )
    services = build_services(settings)
    schedule = import_schedule(settings, services.audit)
    assert schedule is not None
    schedule.run_once()
    assert sorted(p.name for p in into.glob("*.md")) == [
        "returning-an-item--web-en-returns.md",
        "versandkosten--web-de-versand.md",
    ]
    assert all(parse_article(p).meta.collection == "faq" for p in into.glob("*.md"))
    schedule.run_once()
    entries = [e for e in services.audit.entries() if e["event"] == "knowledge_import"]
    assert [e["actor"] for e in entries] == ["import-schedule"] * 4
    assert entries[0]["details"] == {"kind": "files", "ok": False, "error": "ImportRefused"}
    assert entries[1]["details"]["created"] == 2 and entries[3]["details"]["unchanged"] == 2
    assert entries[1]["details"]["host"] == "127.0.0.1" and entries[1]["details"]["kind"] == "website"
    assert "Returning" not in json.dumps(entries)  # counts, never content


# the console ---------------------------------------------------------------------------------------------
@dataclass
class Console:
    url: str
    settings: Settings
    services: Any

    def client(self, username: str):  # noqa: ANN201 - gradio_client.Client
        return console_client(self.url, password_login(self.url, username, PASSWORD))


@pytest.fixture(scope="module")
def console(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    from ui.app import create_app

    data_dir = tmp_path_factory.mktemp("import-console")
    shutil.copytree(demo_data_dir / "index", data_dir / "index")
    knowledge = tmp_path_factory.mktemp("import-knowledge") / "knowledge"
    knowledge.mkdir()
    settings = make_settings(data_dir, knowledge_dir=knowledge, staff_two_factor_roles=[])
    services = build_services(settings)
    services.staff.add("lead", "support_lead", PASSWORD)
    services.staff.add("officer", "privacy_officer", PASSWORD)
    server = BackgroundServer(create_app(services))
    try:
        yield Console(server.start(), settings, services)
    finally:
        server.stop()


def test_console_imports_an_export_and_resolves_a_conflict(console: Console, tmp_path: Path) -> None:
    from gradio_client import handle_file

    lead = console.client("lead")
    upload = tmp_path / "zendesk-articles.json"
    export = json.loads((DATA / "zendesk-articles.json").read_text(encoding="utf-8"))
    upload.write_text(json.dumps(export), encoding="utf-8")
    report, conflict_rows = lead.predict(
        handle_file(str(upload)), "", "returns", "auto", api_name="/import_run"
    )
    assert "**3** created" in report and "article 360001004 [body]: missing or empty" in report
    drafts = console.settings.knowledge_dir / "drafts"
    kb = load_knowledge(console.settings.knowledge_dir)
    assert len(kb.articles) == 3 and not kb.problems
    assert {a.meta.collection for a in kb.articles} == {"returns"}

    edited = next(drafts.glob("versandkosten--*.md"))
    edited.write_text(edited.read_text(encoding="utf-8") + "\nNoch eine Zeile.\n", encoding="utf-8")
    export["articles"][1]["body"] = "<p>Der Versand kostet jetzt 5,90 Euro.</p>"
    upload.write_text(json.dumps(export), encoding="utf-8")
    report, conflict_rows = lead.predict(
        handle_file(str(upload)), "", "returns", "auto", api_name="/import_run"
    )
    assert "**1** conflicts" in report
    assert [row[0] for row in conflict_rows["data"]] == [edited.name]
    assert lead.predict(api_name="/import_conflicts")["data"][0][0] == edited.name
    message, conflict_rows = lead.predict(edited.name, "take the source version", api_name="/import_resolve")
    assert "take the source version" in message and not conflict_rows["data"]
    assert "5,90 Euro" in edited.read_text(encoding="utf-8")

    with pytest.raises(Exception, match="no declared jurisdiction"):  # a website is an egress like any other
        lead.predict(None, "https://help.example.com/sitemap.xml", "general", "auto", api_name="/import_run")
    with pytest.raises(Exception, match="not one of the websites in import_sources"):  # nor a local service
        lead.predict(None, "http://127.0.0.1:9/sitemap.xml", "general", "auto", api_name="/import_run")
    events = [e for e in console.services.audit.entries() if e["event"].startswith("knowledge_import")]
    assert [e["event"] for e in events] == [
        "knowledge_import",
        "knowledge_import",
        "knowledge_import_resolved",
    ]
    assert events[0]["actor"] == "staff:lead" and events[0]["details"]["kind"] == "zendesk"
    assert "Versand" not in json.dumps(events)


def test_console_import_is_refused_to_a_role_without_it(console: Console) -> None:
    officer = console.client("officer")
    for action, args in {
        "import_run": (None, "http://127.0.0.1:9/", "general", "auto"),
        "import_conflicts": (),
        "import_resolve": ("x.md", "keep mine"),
    }.items():
        with pytest.raises(Exception, match="may not use"):
            officer.predict(*args, api_name=f"/{action}")
    refused = [e for e in console.services.audit.entries() if e["details"].get("allowed") is False]
    assert {e["details"]["action"] for e in refused} >= {"import_run", "import_conflicts", "import_resolve"}


# the live helpdesk APIs (on loopback, in their documented shape) ------------------------------------------
class ApiHandler(BaseHTTPRequestHandler):
    authorizations: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        ApiHandler.authorizations.append(self.headers.get("authorization", ""))
        root = f"http://127.0.0.1:{self.server.server_port}"
        zendesk = json.loads((DATA / "zendesk-articles.json").read_text(encoding="utf-8"))["articles"]
        freshdesk = json.loads((DATA / "freshdesk-folders.json").read_text(encoding="utf-8"))["folders"]
        routes: dict[str, Any] = {
            "/api/v2/help_center/articles.json?per_page=100": {
                "articles": zendesk[:2],
                "next_page": f"{root}/api/v2/help_center/articles.json?page=2&per_page=100",
            },
            "/api/v2/help_center/articles.json?page=2&per_page=100": {
                "articles": zendesk[2:],
                "next_page": None,
            },
            "/api/v2/solutions/categories": [{"id": 1, "name": "Help"}],
            "/api/v2/solutions/categories/1/folders": [
                {"id": f["id"], "name": f["name"], "visibility": f["visibility"]} for f in freshdesk
            ],
            **{
                f"/api/v2/solutions/folders/{f['id']}/articles?per_page=100&page=1": f["articles"]
                for f in freshdesk
            },
        }
        if self.path not in routes:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(routes[self.path]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def test_live_helpdesk_apis_with_a_token_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ApiHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = f"http://127.0.0.1:{server.server_port}"
    try:
        into = tmp_path / "knowledge" / "drafts"
        monkeypatch.setattr("sys.stdin", open("/dev/null"))  # noqa: SIM115 - no terminal to ask in
        assert (
            main(
                ["import", "--data-dir", str(tmp_path / "data"), api, "--api", "zendesk", "--into", str(into)]
            )
            == 2
        )
        assert "Set SUPPORT_AGENT_IMPORT_TOKEN" in capsys.readouterr().err
        monkeypatch.setenv("SUPPORT_AGENT_IMPORT_TOKEN", "agent@example.eu/token:s3cret")
        assert (
            main(
                [
                    "import",
                    "--data-dir",
                    str(tmp_path / "data"),
                    api,
                    "--api",
                    "zendesk",
                    "--into",
                    str(into),
                    "--delay",
                    "0",
                ]
            )
            == 1
        )
        assert (
            "created 3, updated 0, unchanged 0, removed 0, conflicts 0, invalid 1" in capsys.readouterr().out
        )
        assert ApiHandler.authorizations[-1].startswith("Basic ")
        monkeypatch.setenv("SUPPORT_AGENT_IMPORT_TOKEN", "fd-api-key")
        assert (
            main(
                [
                    "import",
                    "--data-dir",
                    str(tmp_path / "data"),
                    api,
                    "--api",
                    "freshdesk",
                    "--into",
                    str(into),
                    "--delay",
                    "0",
                ]
            )
            == 1
        )
        assert "freshdesk" in capsys.readouterr().out
        kb = load_knowledge(tmp_path / "knowledge")
        assert not kb.problems and len(kb.articles) == 6
        assert {a.id: a.meta.audience for a in kb.articles}["freshdesk-48000203"] == "internal"
        audit = build_services(make_settings(tmp_path / "data")).audit
        assert "s3cret" not in json.dumps(audit.entries()) and "fd-api-key" not in json.dumps(audit.entries())
    finally:
        server.shutdown()
