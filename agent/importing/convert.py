"""Source formats → Markdown, with well-kept libraries: HTML (markdownify), the main content of a web
page (trafilatura), DOCX (mammoth, then HTML → Markdown), PDF (pypdf). Headings, lists, tables and links
are kept; images are dropped and counted (the report says how many, the Markdown keeps a comment)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

_BLANK_LINES = re.compile(r"\n{3,}")
_HEADING = re.compile(r"^#{1,6}[ \t]+(\S.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Converted:
    """Markdown from one source document, and how many images were left out."""

    markdown: str
    images_dropped: int = 0

    @property
    def first_heading(self) -> str | None:
        """The text of the first heading, if any (a title for sources without one)."""
        match = _HEADING.search(self.markdown)
        return match.group(1).strip().strip("#").strip() if match else None


def html_to_markdown(html: str) -> Converted:
    """HTML (a fragment or a page) → Markdown with ATX headings; images become a comment and are counted."""
    from markdownify import MarkdownConverter

    dropped = 0

    class _Converter(MarkdownConverter):
        def convert_img(self, el: Any, text: str, parent_tags: Any) -> str:  # noqa: ARG002
            nonlocal dropped
            dropped += 1
            alt = " ".join(str(el.attrs.get("alt") or "").split()).replace("--", "-")
            return f"<!-- image left out on import{': ' + alt if alt else ''} -->"

    converter = _Converter(heading_style="ATX", bullets="-", strip=["script", "style", "noscript"])
    markdown = converter.convert(html)
    lines = [line.rstrip() for line in markdown.splitlines()]
    return Converted(_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip(), dropped)


def docx_to_markdown(path: Path) -> Converted:
    """A Word document → Markdown (mammoth keeps the structure as HTML, markdownify writes it)."""
    import mammoth

    with path.open("rb") as handle:
        result = mammoth.convert_to_html(handle)
    return html_to_markdown(result.value)


def pdf_to_markdown(path: Path) -> Converted:
    """A PDF → its text, one paragraph per block (PDFs carry no headings or lists to keep)."""
    from pypdf import PdfReader

    pages = [page.extract_text() or "" for page in PdfReader(path).pages]
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    return Converted(_BLANK_LINES.sub("\n\n", text).strip())


@dataclass(frozen=True)
class WebPage:
    """The main content of a web page as Markdown, with what its head says about it."""

    converted: Converted
    title: str | None
    updated: date | None
    language: str | None


def web_page(html: str, url: str) -> WebPage:
    """Navigation, headers and footers removed (trafilatura), the article converted to Markdown."""
    import trafilatura

    main = trafilatura.extract(
        html,
        url=url,
        output_format="html",
        include_links=True,
        include_tables=True,
        include_images=True,  # kept here so the converter can count and drop them with a note
        include_formatting=True,
        favor_recall=True,
    )
    meta = trafilatura.extract_metadata(html, default_url=url)
    title = meta.title if meta and meta.title else None
    updated = _date(meta.date) if meta and meta.date else None
    lang = re.search(r"<html[^>]*\blang=[\"']?([a-zA-Z]{2})", html[:5000])
    return WebPage(
        html_to_markdown(main) if main else Converted(""),
        title,
        updated,
        lang.group(1).lower() if lang else None,
    )


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
