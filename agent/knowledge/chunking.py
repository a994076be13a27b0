"""Article → Chunks, split along Markdown headings; each chunk keeps its title and heading path."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from agent.knowledge.articles import Article

_HEADINGS = [("#", "h1"), ("##", "h2"), ("###", "h3")]


@dataclass(frozen=True)
class Chunk:
    """A passage of one article, ready to embed and store."""

    article_id: str
    position: int
    title: str
    heading_path: str
    text: str

    @property
    def searchable_text(self) -> str:
        """What is embedded and searched: title and headings give the passage its context."""
        head = " > ".join(p for p in (self.title, self.heading_path) if p)
        return f"{head}\n{self.text}"


def chunk_article(article: Article, chunk_size: int = 900) -> list[Chunk]:
    """Split an article into heading-aware chunks of at most chunk_size characters."""
    by_heading = MarkdownHeaderTextSplitter(headers_to_split_on=_HEADINGS, strip_headers=True)
    by_size = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_size // 8)
    title = article.meta.title
    chunks: list[Chunk] = []
    for section in by_heading.split_text(article.body):
        headings = [section.metadata[k] for _, k in _HEADINGS if k in section.metadata]
        if headings and headings[0] == title:
            headings = headings[1:]  # the H1 usually repeats the title
        for piece in by_size.split_text(section.page_content):
            if piece.strip():
                chunks.append(Chunk(article.id, len(chunks), title, " > ".join(headings), piece.strip()))
    return chunks
