"""Scale-out: the conversation store on a real PostgreSQL server, shared by two chat replicas."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from agent.errors import ConfigError
from agent.knowledge.embeddings import Embedder
from agent.privacy.audit import DatabaseAuditLog
from agent.privacy.crypto import Keyring, new_reference_code
from agent.privacy.store import ConversationStore, UnknownSubject
from agent.settings import load_settings
from agent.wiring import build_services
from tests.conftest import make_settings
from tests.postgres_server import create_database, find_pg_bin, postgres_server
from tests.support import BackgroundServer
from ui.app import create_app

MASTER_KEY = "q7yGkqvx0mU0Jb3yq1G6rW2yV6Zr8a3cKJ0m9YQpX2s="  # test-only; replicas share one master key


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed: `make postgres` installs Debian's package")
    with postgres_server(bin_dir) as server:
        yield server


@pytest.fixture
def databases(postgres: str, request: pytest.FixtureRequest) -> tuple[str, str]:
    name = request.node.name.removeprefix("test_")[:40]
    return create_database(postgres, f"conv_{name}"), create_database(postgres, f"keys_{name}")


def test_store_on_postgresql_seals_erases_and_expires(databases: tuple[str, str]) -> None:
    conversations, keys = databases
    store = ConversationStore(conversations, keys, Keyring(bytes(range(32))))
    assert store.engine.dialect.name == "postgresql"
    ref, old = new_reference_code(), new_reference_code()
    subject = store.open_subject(ref, "v1")
    store.append(ref, "customer", "canary-pg-19 wo ist mein Paket?")
    store.open_subject(old, "v1", now=datetime.now(UTC) - timedelta(days=40))
    assert [m.text for m in store.messages(ref)] == ["canary-pg-19 wo ist mein Paket?"]
    with sa.create_engine(conversations).connect() as conn:
        raw = conn.exec_driver_sql("SELECT sealed FROM messages").scalar_one()
        assert b"canary-pg-19" not in raw  # sealed at rest
        assert (
            conn.exec_driver_sql("SELECT count(*) FROM subjects WHERE subject_id = %s", (ref,)).scalar() == 0
        )
    assert store.expired(30) == [store.subject_id(old)]
    deletion = store.erase(subject)  # also vacuums the tables
    assert (deletion.messages, deletion.key_destroyed) == (1, True)
    with pytest.raises(UnknownSubject):
        store.messages(ref)
    store.close()


def test_retention_per_category_on_postgresql(databases: tuple[str, str], tmp_path: Path) -> None:
    from agent.privacy.subjects import open_data_subjects

    conversations, keys = databases
    settings = make_settings(
        tmp_path,
        conversation_store_url=conversations,
        key_store_url=keys,
        master_key=MASTER_KEY,
        retention_days=10,
        ticket_retention_days=20,
        feedback_retention_days=40,
        statistics_retention_days=30,
    )
    subjects = open_data_subjects(settings)
    rated, handed = subjects.consent_to_store(), subjects.consent_to_store()
    subjects.remember(rated, "Gibt es Gutscheine?", "Dazu finde ich nichts.")
    subjects.rate(rated, "Gibt es Gutscheine?", helpful=False)
    subjects.statistics.record_answer(rated, refused=True, seconds=0.44, article=None, language="de")
    for _ in range(2):  # the second adds to the day's row
        subjects.statistics.record_rating(rated, None, helpful=False)
    assert [(r.outcome, r.seconds) for r in subjects.statistics.answers(datetime.now(UTC).date())] == [
        ("refused", 0.4)
    ]
    assert [r.down for r in subjects.statistics.ratings(datetime.now(UTC).date())] == [2]
    ticket, _ = subjects.open_ticket(handed, "Paket beschädigt", "kim@example.org")
    subjects.store.close_ticket(ticket, by="lead")
    start = datetime.now(UTC)
    counts = [subjects.purge(actor="test", now=start + timedelta(days=days)) for days in (9, 11, 21, 41)]
    figures = [
        (c["expired_messages_deleted"], c["handoff_tickets_deleted"], c["feedback_deleted"]) for c in counts
    ]
    assert figures == [(0, 0, 0), (2, 0, 0), (0, 1, 0), (0, 0, 1)]
    assert [c["expired_conversations_erased"] for c in counts] == [0, 0, 1, 1]
    assert [c["answer_statistics_deleted"] for c in counts] == [0, 0, 0, 2]
    assert subjects.store.counts() == (0, 0)
    subjects.store.close()


def test_two_replicas_share_conversations_through_postgresql(
    databases: tuple[str, str], demo_data_dir: Path, tmp_path: Path, embedder: Embedder
) -> None:
    from gradio_client import Client

    conversations, keys = databases
    replicas, services = [], []
    for number in (1, 2):
        data_dir = tmp_path / f"replica{number}"
        shutil.copytree(demo_data_dir / "index", data_dir / "index")
        settings = make_settings(
            data_dir, conversation_store_url=conversations, key_store_url=keys, master_key=MASTER_KEY
        )
        services.append(build_services(settings, embedder=embedder))
        replicas.append(BackgroundServer(create_app(services[-1])))
    first, second = (server.start() for server in replicas)
    for replica in services:
        replica.subjects.forget_erased_elsewhere()  # what the server's follower does every few seconds
    try:
        client = Client(first, verbose=False, download_files=False)
        _, code, *_ = client.predict(api_name="/consent_store")
        client.predict("canary-pg-42 How long do I have to return an item?", api_name="/chat")
        llm = services[0].agent._generator._llm  # the first replica's model holds the prompt
        assert llm.n_tokens > 0

        # the customer comes back later and lands on the other replica
        other = Client(second, verbose=False, download_files=False)
        _, data_file = other.predict(code, api_name="/download_my_data")
        export = httpx.get(data_file["url"], timeout=30).json()
        assert export["messages"][0]["text"].startswith("canary-pg-42")
        status, *_ = other.predict(code, api_name="/delete_my_data")
        assert "Deleted: 2 messages" in status
        status, _ = client.predict(code, api_name="/download_my_data")
        assert "No stored conversation" in status  # gone for every replica
        assert services[0].subjects.forget_erased_elsewhere() == 1
        assert llm.n_tokens == 0  # the erasure on the second replica cleared the first one's model memory
    finally:
        for server in replicas:
            server.stop()
    with sa.create_engine(conversations).connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM messages").scalar() == 0
    # one audit chain for both replicas, in the shared database; no file trail on either
    chain = DatabaseAuditLog(sa.create_engine(conversations))
    assert chain.verify().ok
    events = [e["event"] for e in chain.entries()]
    assert "consent_given" in events and "erasure" in events  # written by the first and the second replica
    assert not any((tmp_path / f"replica{number}" / "audit").exists() for number in (1, 2))


def test_curated_answers_are_shared_by_replicas_through_postgresql(
    databases: tuple[str, str], demo_data_dir: Path, tmp_path: Path, embedder: Embedder
) -> None:
    from agent.answering.curated import CuratedMatcher
    from agent.wiring import build_retriever

    conversations, keys = databases
    replicas = []
    for number in (1, 2):
        data_dir = tmp_path / f"replica{number}"
        shutil.copytree(demo_data_dir / "index", data_dir / "index")
        settings = make_settings(
            data_dir, conversation_store_url=conversations, key_store_url=keys, master_key=MASTER_KEY
        )
        replicas.append(build_services(settings, embedder=embedder))
    first, second = replicas
    assert second.curated_store.answers() == []
    curated = first.staff_services.curated
    saved = curated.save(
        None, "Can I return an item I bought in the sale?", "Yes, within 30 days.", "en", "en-returns", True,
        "lead", "staff:lead",
    )  # fmt: skip
    retriever = build_retriever(second.settings, embedder)
    matcher = CuratedMatcher(
        lambda: second.curated_store, embedder, second.settings.curated_answer_min_similarity
    )
    question = embedder.embed_query("Can I return items I bought in the sale?")
    found = matcher.match(question, "en", retriever.customer_article)
    assert found is not None and found.answer.id == saved and found.answer.answer == "Yes, within 30 days."
    curated.save(
        saved, "Can I return an item I bought in the sale?", "Yes: 30 days.", "en", "en-returns", True,
        "lead", "staff:lead",
    )  # fmt: skip
    edited = matcher.match(question, "en", retriever.customer_article)
    assert edited is not None and edited.answer.answer == "Yes: 30 days."  # the other replica's edit, at once
    assert first.curated_store.get(saved).uses == 2  # counted in the shared table
    curated.remove(saved, "staff:lead")
    assert matcher.match(question, "en", retriever.customer_article) is None


def test_remote_postgresql_needs_a_declared_eu_host_and_verified_tls() -> None:
    plain = "postgresql+psycopg://agent:s3cret@db.example.eu/conv"
    with pytest.raises(ConfigError) as error:
        load_settings(
            conversation_store_url=plain,
            key_store_url=plain.replace("conv", "keys"),
            endpoint_jurisdictions={"db.example.eu": "eu"},
        )
    assert "sslmode=verify-full" in str(error.value) and "s3cret" not in str(error.value)
    with pytest.raises(ConfigError, match="no declared jurisdiction"):
        load_settings(
            conversation_store_url="postgresql+psycopg://agent@db.example.com/conv?sslmode=verify-full",
            key_store_url="postgresql+psycopg://agent@db.example.com/keys?sslmode=verify-full",
        )
    with pytest.raises(ConfigError, match="go together"):
        load_settings(conversation_store_url="postgresql+psycopg://agent@127.0.0.1/conv")
    settings = load_settings(
        conversation_store_url="postgresql+psycopg://agent@db.example.eu/conv?sslmode=verify-full",
        key_store_url="postgresql+psycopg://agent@db.example.eu/keys?sslmode=verify-full",
        endpoint_jurisdictions={"db.example.eu": "eu"},
    )
    assert settings.egress_allowlist() == {"db.example.eu"}
