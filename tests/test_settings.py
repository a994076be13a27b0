"""Configuration: env vars, a TOML file, and readable validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.settings import PROJECT_ROOT, Settings, load_settings
from agent.wiring import answer_slots


def test_defaults_are_the_private_ones() -> None:
    settings = load_settings()
    assert settings.host == "127.0.0.1"
    assert settings.chat_model == "qwen2.5-coder-1.5b-instruct"
    assert settings.index_dir == PROJECT_ROOT / "data" / "index"
    assert settings.embed_origins == [] and settings.rate_limits and settings.metrics_token is None
    assert settings.listening_problem() is None


def test_relative_paths_count_from_the_config_file_not_the_current_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "site").mkdir()
    config = tmp_path / "site" / "agent.toml"
    config.write_text('knowledge_dir = "articles"\ndraft_knowledge_dirs = ["drafts"]\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_settings().models_dir == PROJECT_ROOT / "models"  # no file: the project root
    monkeypatch.setenv("SUPPORT_AGENT_CONFIG", str(config))
    settings = load_settings()
    assert settings.knowledge_dir == tmp_path / "site" / "articles"
    assert settings.draft_knowledge_dirs == [tmp_path / "site" / "drafts"]
    assert settings.data_dir == tmp_path / "site" / "data"


def test_serving_settings_are_checked(tmp_path: Path) -> None:
    settings = load_settings(embed_origins=["https://Shop.Example.com/", "http://127.0.0.1:8000"])
    assert settings.embed_origins == ["https://shop.example.com", "http://127.0.0.1:8000"]
    for wrong in ("shop.example.com", "https://shop.example.com/help", "ftp://x.example"):
        with pytest.raises(ConfigError, match="embed_origins"):
            load_settings(embed_origins=[wrong])
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_settings(trusted_proxies=["my-proxy"])
    with pytest.raises(ConfigError, match="tls_keyfile go together"):
        load_settings(tls_certfile=tmp_path / "cert.pem")
    exposed = load_settings(host="0.0.0.0")
    assert "unencrypted" in (exposed.listening_problem() or "")
    assert load_settings(host="0.0.0.0", trusted_proxies=["10.0.0.5"]).listening_problem() is None


def test_env_var_and_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('port = 8080\ncompany_name = "Example GmbH"\ntop_k = 3\n')
    monkeypatch.setenv("SUPPORT_AGENT_CONFIG", str(config))
    monkeypatch.setenv("SUPPORT_AGENT_TOP_K", "5")
    settings = load_settings()
    assert settings.port == 8080 and settings.company_name == "Example GmbH"
    assert settings.top_k == 5  # env beats file
    assert load_settings(top_k=2).top_k == 2  # explicit beats env


def test_invalid_values_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORT_AGENT_PORT", "99999")
    monkeypatch.setenv("SUPPORT_AGENT_MIN_RELEVANCE", "high")
    with pytest.raises(ConfigError) as err:
        load_settings()
    text = str(err.value)
    assert "The configuration is not valid" in text
    assert "port (env SUPPORT_AGENT_PORT)" in text
    assert "min_relevance (env SUPPORT_AGENT_MIN_RELEVANCE)" in text


def test_unknown_setting_and_missing_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text("colour = 'blue'\n")
    monkeypatch.setenv("SUPPORT_AGENT_CONFIG", str(config))
    with pytest.raises(ConfigError, match="colour"):
        load_settings()
    monkeypatch.setenv("SUPPORT_AGENT_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


def test_parallel_answers_only_with_inference_servers_and_the_form_of_address() -> None:
    assert answer_slots(load_settings(parallel_answers=4)) == 1  # the model in this process: one at a time
    assert answer_slots(load_settings(parallel_answers=4, inference_urls=["http://127.0.0.1:8081/v1"])) == 4
    assert load_settings(german_address="du").german_address == "du"
    with pytest.raises(ConfigError, match="german_address"):
        load_settings(german_address="ihr")


def test_two_factor_roles_are_checked() -> None:
    assert load_settings().staff_two_factor_roles == ["privacy_officer", "admin"]
    everyone = load_settings(staff_two_factor_roles=["Support_Lead ", "admin", "admin"])
    assert everyone.staff_two_factor_roles == ["support_lead", "admin"]
    assert load_settings(staff_two_factor_roles=[]).staff_two_factor_roles == []
    with pytest.raises(
        ConfigError, match="staff_two_factor_roles.*unknown role 'boss'; the roles are support_lead"
    ):
        load_settings(staff_two_factor_roles=["boss"])


def test_every_setting_is_documented() -> None:
    documented = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`{name}`" not in documented]
    assert missing == []


def test_egress_allowlist_follows_the_declared_endpoints() -> None:
    settings = load_settings(
        endpoint_jurisdictions={"LLM.Example.EU": "EU", "vectors.example.eu": "eu"},
        inference_urls=["https://llm.example.eu/v1", "http://127.0.0.1:8080/v1"],
        vector_store_url="https://vectors.example.eu:8000",
    )
    assert settings.egress_allowlist() == {"llm.example.eu", "127.0.0.1", "vectors.example.eu"}
    assert load_settings().egress_allowlist() == set()  # the default: nothing remote at all
