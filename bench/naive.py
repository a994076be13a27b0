"""The naive baseline for benchmarks only: the LangChain-quickstart RAG that customers' alternatives use.

1000-character chunks without headings, all-MiniLM-L6-v2, Chroma top-4, the classic "if you don't know,
say you don't know" prompt, the same chat model, no threshold and no guard. Never used for customers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from langchain_text_splitters import RecursiveCharacterTextSplitter

from agent.answering.answer import Answer, Citation
from agent.answering.generation import Generator
from agent.answering.language import detect_language
from agent.knowledge.articles import KnowledgeBase
from agent.knowledge.embeddings import Embedder
from agent.knowledge.index import open_client

PROMPT = (
    "Use the following pieces of context to answer the question at the end. If you don't know the "
    "answer, just say that you don't know, don't try to make up an answer.\n\n{context}\n\n"
    "Question: {question}\nHelpful Answer:"
)
_DONT_KNOW = re.compile(r"don'?t know|do not know|weiß (ich )?(es )?nicht|keine information", re.I)


class NaivePipeline:
    """Chunk, embed, top-4, prompt: nothing more."""

    def __init__(self, kb: KnowledgeBase, embedder: Embedder, index_dir: Path, generator: Generator) -> None:
        self._embedder = embedder
        self._generator = generator
        client = open_client(index_dir)
        name = "naive-baseline"
        if name in [c.name for c in client.list_collections()]:
            client.delete_collection(name)
        self._collection = client.create_collection(
            name=name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        # The quickstart indexes every document it is given: it knows no audience or status.
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        ids, docs, metas = [], [], []
        for article in kb.articles:
            for n, piece in enumerate(splitter.split_text(article.body)):
                ids.append(f"{article.id}#{n}")
                docs.append(piece)
                metas.append(
                    {"article_id": article.id, "title": article.meta.title, "url": article.meta.url or ""}
                )
        self._collection.add(
            ids=ids, documents=docs, metadatas=metas, embeddings=embedder.embed_documents(docs)
        )

    def validate(self, question: str) -> str:
        """The quickstart checks nothing: the message as typed, stripped."""
        return (question or "").strip()

    def stream(self, question: str, history: Sequence[tuple[str, str]] = ()) -> Iterator[Answer]:
        """Retrieve the top 4 chunks and let the model answer."""
        start = time.perf_counter()
        result = self._collection.query(
            query_embeddings=[self._embedder.embed_query(question)],
            n_results=4,
            include=["documents", "metadatas", "distances"],
        )
        metas, docs = result["metadatas"][0], result["documents"][0]
        retrieved = list(dict.fromkeys(str(m["article_id"]) for m in metas))
        citations = list(
            {
                str(m["article_id"]): Citation(str(m["article_id"]), str(m["title"]), str(m["url"]))
                for m in metas
            }.values()
        )
        scores = [round(1.0 - float(d), 4) for d in result["distances"][0]]
        after_retrieval = time.perf_counter()
        prompt = PROMPT.format(context="\n\n".join(docs), question=question)
        base = Answer("", citations, False, detect_language(question), retrieved=retrieved, scores=scores)
        text, first = "", None
        for piece in self._generator.stream([{"role": "user", "content": prompt}]):
            first = first or time.perf_counter()
            text += piece
            yield replace(base, text=text)
        end = time.perf_counter()
        timings = {
            "retrieve_s": round(after_retrieval - start, 4),
            "ttft_s": round((first or end) - after_retrieval, 4),
            "total_s": round(end - start, 4),
        }
        refused = bool(_DONT_KNOW.search(text))
        yield replace(
            base,
            text=text.strip(),
            refused=refused,
            citations=[] if refused else citations,
            timings=timings,
            done=True,
        )

    def ask(self, question: str, history: Sequence[tuple[str, str]] = ()) -> Answer:
        """The complete answer."""
        *_, answer = self.stream(question, history)
        return answer
