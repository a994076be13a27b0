"""A file, a folder or a .zip of HTML, Markdown, DOCX and PDF files → source articles."""

from __future__ import annotations

import re
import tempfile
import zipfile
from datetime import date
from pathlib import Path

import yaml

from agent.importing.convert import (
    Converted,
    docx_to_markdown,
    html_to_markdown,
    pdf_to_markdown,
    web_page,
)
from agent.importing.model import ImportRefused, Skipped, SourceArticle, SourceBatch

DOCUMENT_TYPES = (".html", ".htm", ".md", ".markdown", ".docx", ".pdf")
MAX_FILE_BYTES = 20_000_000
MAX_ZIP_FILES = 5000
MAX_ZIP_BYTES = 500_000_000
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)
_IGNORED = ("readme.md",)


def read_documents(path: Path, origin: str | None = None) -> SourceBatch:
    """Every supported document in a file, folder or .zip; others are listed as skipped with the reason."""
    origin = origin or path.name
    if path.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="import-") as unpacked:
            return _read_folder(_unzip(path, Path(unpacked)), origin)
    if path.is_dir():
        return _read_folder(path, origin)
    if path.suffix.lower() not in DOCUMENT_TYPES:
        raise ImportRefused(
            f"{path.name}: cannot import this kind of file. Give HTML, Markdown, DOCX or PDF files, a "
            "folder or .zip of them, a Zendesk or Freshdesk JSON export, or a website address."
        )
    batch = SourceBatch("files", origin)
    _read_one(path, path.name, origin, batch)
    return batch


def _read_folder(folder: Path, origin: str) -> SourceBatch:
    batch = SourceBatch("files", origin)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in Path(relative).parts) or path.name.lower() in _IGNORED:
            continue
        if path.suffix.lower() not in DOCUMENT_TYPES:
            batch.skipped.append(Skipped(relative, "", "not an HTML, Markdown, DOCX or PDF file"))
            continue
        _read_one(path, relative, origin, batch)
    if not batch.articles and not batch.skipped:
        raise ImportRefused(f"{origin}: there is no HTML, Markdown, DOCX or PDF file in it.")
    return batch


def _read_one(path: Path, relative: str, origin: str, batch: SourceBatch) -> None:
    """Convert one document, or record why it was skipped."""
    if path.stat().st_size > MAX_FILE_BYTES:
        batch.skipped.append(Skipped(relative, "", f"larger than {MAX_FILE_BYTES // 1_000_000} MB"))
        return
    try:
        article = _convert(path, relative, origin)
    except Exception as exc:  # a broken document must not stop the others; the report says why
        batch.skipped.append(Skipped(relative, "", f"cannot be read ({type(exc).__name__}: {exc})"[:300]))
        return
    if not article.markdown.strip():
        reason = "no text in it" + (" (a scanned PDF has no text layer)" if path.suffix == ".pdf" else "")
        batch.skipped.append(Skipped(relative, "body", reason))
        return
    batch.articles.append(article)


def _convert(path: Path, relative: str, origin: str) -> SourceArticle:
    suffix = path.suffix.lower()
    fields: dict[str, object] = {}
    title: str | None = None
    language: str | None = None
    if suffix in (".md", ".markdown"):
        converted, fields = _markdown(path.read_text(encoding="utf-8"))
    elif suffix in (".html", ".htm"):
        text = path.read_text(encoding="utf-8", errors="replace")
        if re.search(r"<(html|body)\b", text[:2000], re.IGNORECASE):
            page = web_page(text, f"file:///{relative}")
            converted = page.converted if page.converted.markdown else html_to_markdown(text)
            title, language = page.title, page.language
        else:
            converted = html_to_markdown(text)
    elif suffix == ".docx":
        converted = docx_to_markdown(path)
    else:
        converted = pdf_to_markdown(path)
    title = str(fields.get("title") or converted.first_heading or title or path.stem.replace("_", " "))
    audience = "internal" if str(fields.get("audience", "")).lower() == "internal" else "public"
    updated = fields.get("updated")
    url = fields.get("url")
    return SourceArticle(
        key=f"files:{origin}:{relative}",
        source_id=relative,  # with its extension: faq.html and faq.pdf are two articles
        title=title,
        markdown=converted.markdown,
        url=str(url) if url else None,
        language=str(fields.get("language") or language or "") or None,
        audience=audience,
        updated=updated if isinstance(updated, date) else date.fromtimestamp(path.stat().st_mtime),
        images_dropped=converted.images_dropped,
    )


def _markdown(text: str) -> tuple[Converted, dict[str, object]]:
    """A Markdown file's body, and the front matter it may already have (title, audience, url …)."""
    text = text.lstrip("\ufeff")
    match = _FRONT_MATTER.match(text)
    fields: dict[str, object] = {}
    if match:
        loaded = yaml.safe_load(match.group(1))
        fields = loaded if isinstance(loaded, dict) else {}
        text = text[match.end() :]
    return Converted(text.strip()), fields


def _unzip(archive: Path, target: Path) -> Path:
    """Unpack a .zip safely: no paths outside the target, bounded in files and size."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [m for m in bundle.infolist() if not m.is_dir()]
            if len(members) > MAX_ZIP_FILES or sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise ImportRefused(f"{archive.name}: too large (at most {MAX_ZIP_FILES} files, 500 MB).")
            for member in members:
                name = Path(member.filename)
                if name.is_absolute() or ".." in name.parts:
                    continue
                destination = target / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(bundle.read(member))
    except zipfile.BadZipFile:
        raise ImportRefused(f"{archive.name} is not a valid .zip file.") from None
    return target
