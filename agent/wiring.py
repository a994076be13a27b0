"""The only place concrete classes are created and connected: `build_services(settings)` for entry points."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from agent.answering.assistant import AgentPolicy, SupportAgent
from agent.answering.curated import CuratedMatcher, CuratedSource
from agent.answering.generation import GenerationOptions, Generator, LlamaCppGenerator
from agent.answering.guard import GroundingGuard, GuardPolicy
from agent.answering.inference_pool import InferencePool
from agent.answering.prefix_cache import PrefixCache
from agent.answering.turnstile import Turnstile
from agent.errors import ConfigError, KnowledgeError
from agent.knowledge.articles import KnowledgeBase, load_knowledge
from agent.knowledge.embeddings import Embedder, load_embedder
from agent.knowledge.index import open_client, open_collection, sync_index
from agent.knowledge.question_index import open_question_collection
from agent.knowledge.questions import CACHE_FILE, QuestionCache, QuestionSource
from agent.knowledge.retrieval import Retriever, Scope
from agent.privacy.audit import AuditLog
from agent.privacy.redaction import Redactor
from agent.privacy.subjects import DataSubjects, open_data_subjects
from agent.runtime.models import resolve
from agent.settings import Settings
from agent.staff.accounts import StaffDirectory
from agent.staff.curated_store import CuratedAnswerStore
from agent.staff.services import StaffServices
from agent.staff.two_factor import TwoFactor


def build_embedder(settings: Settings) -> Embedder:
    """The configured embedding model, verified and loaded from models_dir."""
    path = resolve(settings.embedding_model, settings.models_dir)
    return load_embedder(
        path,
        threads=settings.threads,
        query_prefix=settings.query_prefix,
        passage_prefix=settings.passage_prefix,
    )


def build_generator(settings: Settings) -> Generator:
    """The configured inference servers, else the chat model verified and loaded into llama.cpp."""
    options = GenerationOptions(
        max_tokens=settings.max_answer_tokens,
        temperature=settings.temperature,
        repeat_penalty=settings.repeat_penalty,
    )
    if settings.inference_urls:
        return InferencePool(
            settings.inference_urls,
            model=settings.inference_model,
            options=options,
            timeout_s=settings.inference_timeout_s,
            ca_file=settings.tls_ca_file,
        )
    path = resolve(settings.chat_model, settings.models_dir)
    cache = None
    if settings.prompt_cache_mb:
        cache = PrefixCache(
            model_id=f"{path.name}:{path.stat().st_size}:{settings.context_tokens}:{settings.prompt_lookup_tokens}",
            max_bytes=settings.prompt_cache_mb * 2**20,
            disk_dir=settings.prompt_cache_dir,
            max_disk_bytes=settings.prompt_cache_disk_mb * 2**20,
        )
    return LlamaCppGenerator(
        path,
        context_tokens=settings.context_tokens,
        threads=settings.threads,
        options=options,
        cache=cache,
        lookup_tokens=settings.prompt_lookup_tokens,
    )


def question_source(
    settings: Settings, generator: Callable[[], Generator] | None = None, *, save_to: Path | None = None
) -> QuestionSource | None:
    """Generated questions for indexing `settings.knowledge_dir`: its cache file, else the chat model,
    loaded only for the first article missing from the cache (`generator`: a running app's model
    instead of a second one). `save_to`: write the cache there instead (a simulation never writes the
    folder it reads). None when generated_questions is 0."""
    if not settings.generated_questions:
        return None
    cache = QuestionCache.load(settings.knowledge_dir / CACHE_FILE)
    if save_to is not None:  # a simulation reuses what it generated before for articles the folder lacks
        cache.entries = {**QuestionCache.load(save_to).entries, **cache.entries}
        cache.path = save_to
    short = settings.model_copy(update={"max_answer_tokens": 150})  # six questions fit in 150 tokens
    return QuestionSource(
        cache,
        settings.inference_model if settings.inference_urls else settings.chat_model,
        settings.generated_questions,
        generator or (lambda: build_generator(short)),
    )


def open_store(settings: Settings) -> Any:
    """The Chroma client: the configured Chroma server, else the local store in the data dir."""
    return open_client(settings.index_dir, server_url=settings.vector_store_url, ca_file=settings.tls_ca_file)


def build_retriever(settings: Settings, embedder: Embedder | None = None) -> Retriever:
    """Retriever over the existing index (raises IndexNotReadyError when there is none)."""
    embedder = embedder or build_embedder(settings)
    client = open_store(settings)
    collection = open_collection(client, embedder.name, create=False)
    scope = Scope(tuple(settings.scope_collections), tuple(settings.scope_languages))
    weight = settings.generated_questions_weight if settings.generated_questions else 0.0
    return Retriever(
        collection,
        embedder,
        scope,
        top_k=settings.top_k,
        rrf_k=settings.rrf_k,
        lexical_weight=settings.lexical_weight,
        split_compounds=settings.split_compounds,
        questions=open_question_collection(client, embedder.name, create=False) if weight else None,
        generated_weight=weight,
    )


def agent_policy(settings: Settings) -> AgentPolicy:
    """The answering rules taken from the settings."""
    return AgentPolicy(
        min_relevance=settings.min_relevance,
        min_relevance_to_quote=settings.min_relevance_to_quote,
        min_relevance_agreed=settings.min_relevance_agreed,
        max_sources=settings.top_k,
        history_turns=settings.history_turns,
        max_message_chars=settings.max_message_chars,
        company=settings.company_name,
        handoff={"en": settings.handoff_en, "de": settings.handoff_de},
        busy={"en": settings.busy_en, "de": settings.busy_de},
        unsure={"en": settings.unsure_en, "de": settings.unsure_de},
        source_margin=settings.source_margin,
        rerank_margin=settings.rerank_margin,
        german_address=settings.german_address,
        redactor=Redactor(settings.redaction_types, settings.phone_region),
    )


def answer_slots(settings: Settings) -> int:
    """How many customers the model answers at once: the model in this process takes one at a time."""
    return settings.parallel_answers if settings.inference_urls else 1


def build_agent(
    settings: Settings,
    embedder: Embedder | None = None,
    generator: Generator | None = None,
    curated: Callable[[], CuratedSource] | None = None,
    *,
    count_curated_uses: bool = True,
) -> SupportAgent:
    """A ready SupportAgent for the given settings: model loaded, BM25 built (nothing waits for the
    first customer). `curated`: where the support leads' curated answers are read (on first use);
    `count_curated_uses`: off for simulations (they are not customers)."""
    embedder = embedder or build_embedder(settings)
    retriever = build_retriever(settings, embedder)
    retriever.warm()
    return SupportAgent(
        retriever,
        generator or build_generator(settings),
        agent_policy(settings),
        GroundingGuard(embedder, GuardPolicy(formal_german=settings.german_address == "Sie")),
        Turnstile(slots=answer_slots(settings), max_waiting=settings.max_waiting_customers),
        CuratedMatcher(
            curated, embedder, settings.curated_answer_min_similarity, count_uses=count_curated_uses
        )
        if curated
        else None,
    )


def build_simulation(
    settings: Settings,
    out_dir: Path,
    *,
    knowledge: Path | None = None,
    data_dir: Path | None = None,
    generator: Generator | None = None,
    curated: Callable[[], CuratedSource] | None = None,
) -> tuple[SupportAgent, KnowledgeBase]:
    """An agent over its own index of `knowledge` (default: the live folder) in `data_dir` (default:
    OUT/data), brought up to date first. The live index is never written. `curated`: the live curated
    answers, given where their article is customer-visible in this index (their uses are not counted)."""
    knowledge = knowledge or settings.knowledge_dir
    data_dir = data_dir or out_dir / "data"
    if data_dir.resolve() == settings.data_dir.resolve():
        raise ConfigError(
            f"The simulation's data dir {data_dir} is the live one; pick another --data-dir (or none)."
        )
    sim = settings.model_copy(update={"knowledge_dir": knowledge, "data_dir": data_dir})
    kb = load_knowledge(knowledge)
    if not kb.articles:
        first = f"; first: {kb.problems[0]}" if kb.problems else ""
        raise KnowledgeError(
            f"No valid article in {knowledge}, so there is nothing to simulate against "
            f"({len(kb.problems)} invalid file(s){first})."
        )
    embedder = build_embedder(sim)
    if sim.vector_store_url:  # the simulation's index must never be written into the live server
        sim = sim.model_copy(update={"vector_store_url": None})
    model = (lambda: generator) if generator is not None else None
    questions = question_source(sim, model, save_to=data_dir / CACHE_FILE)
    sync_index(kb, embedder, sim.index_dir, chunk_size=sim.chunk_size, questions=questions)
    return build_agent(sim, embedder, generator, curated, count_curated_uses=False), kb


@dataclass
class Services:
    """Everything an entry point (CLI command, server, test) needs, built from one Settings.

    Each part is built on first use and then kept: `ask` never opens the conversation store, and
    `users list` or `audit verify` never load a model.
    """

    settings: Settings
    embedder: Embedder | None = field(default=None, repr=False)  # a loaded one to share (tests)

    @cached_property
    def subjects(self) -> DataSubjects:
        """The conversation store, the keys and the audit trail (data-subject rights, retention)."""
        return open_data_subjects(self.settings, forget_caches=self.forget_model_memory)

    @cached_property
    def staff(self) -> StaffDirectory:
        """The staff accounts of the console and their two-factor secrets, in the conversation store's
        database (the secrets sealed under a key derived from the master key)."""
        store = self.subjects.store
        return StaffDirectory(
            store.engine,
            TwoFactor(store.engine, store.keyring, issuer=f"{self.settings.company_name} staff console"),
            max_failed_logins=self.settings.max_failed_logins,
            lockout_minutes=self.settings.lockout_minutes,
            session_minutes=self.settings.staff_session_minutes,
            two_factor_roles=self.settings.staff_two_factor_roles,
        )

    @property
    def audit(self) -> AuditLog:
        """The hash-chained audit trail."""
        return self.subjects.audit

    @cached_property
    def agent(self) -> SupportAgent:
        """The answering agent (loads the models and opens the index on first use); it reads the
        curated answers from the conversation store when the first question comes."""
        return build_agent(self.settings, self.embedder, curated=lambda: self.curated_store)

    @cached_property
    def curated_store(self) -> CuratedAnswerStore:
        """The support leads' curated answers, in the conversation store's database."""
        return CuratedAnswerStore(self.subjects.store.engine)

    @cached_property
    def staff_services(self) -> StaffServices:
        """The audited staff actions and views of the console and the CLI (over these services)."""
        return StaffServices(self)

    def forget_model_memory(self) -> None:
        """Clear the in-process model's memory of past prompts, if a model was loaded (erasure)."""
        if "agent" in self.__dict__:
            self.agent.forget()


def build_services(settings: Settings, *, embedder: Embedder | None = None) -> Services:
    """The services of one process for these settings (call `harden_process(settings)` first)."""
    return Services(settings, embedder)
