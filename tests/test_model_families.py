"""Real models from a path: a model's family (tool-call parser, reasoning parser) found from its name or its
folder's config.json, and a wrong or missing parser refused with the fix before anything loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autogen_troupe.errors import ProfileError
from autogen_troupe.models._facts import preset_for
from autogen_troupe.models._families import FAMILIES, family_of
from autogen_troupe.models.vllm._parsers import check_parsers


def _folder(root: Path, name: str, **config: object) -> str:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return str(folder)


@pytest.mark.parametrize(
    ("name", "tool_parser", "reasoning_parser"),
    [
        ("Qwen/Qwen2.5-7B-Instruct", "hermes", None),
        ("Qwen/Qwen3-8B", "hermes", "qwen3"),
        ("Qwen/Qwen3-Coder-30B-A3B-Instruct", "qwen3_coder", None),
        ("Qwen/QwQ-32B", "hermes", "deepseek_r1"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama3_json", None),
        ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "llama4_pythonic", None),
        ("mistralai/Mistral-7B-Instruct-v0.3", "mistral", None),
        ("openai/gpt-oss-20b", "openai", "openai_gptoss"),
        ("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", None, "deepseek_r1"),
        ("ibm-granite/granite-3.3-8b-instruct", "granite", None),
    ],
)
def test_the_name_tells_the_family(name: str, tool_parser: str | None, reasoning_parser: str | None) -> None:
    preset = preset_for(name)
    assert preset.get("tool_parser") == tool_parser
    assert preset.get("reasoning_parser") == reasoning_parser


@pytest.mark.parametrize(
    ("config", "family"),
    [
        ({"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"]}, "Qwen3"),
        ({"model_type": "qwen3_moe", "architectures": ["Qwen3MoeForCausalLM"]}, "Qwen3"),
        ({"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]}, "Qwen 2.5"),
        ({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 128256}, "Llama 3"),
        ({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 49152}, "SmolLM2"),
        ({"model_type": "mistral", "architectures": ["MistralForCausalLM"]}, "Mistral"),
        ({"model_type": "gpt_oss", "architectures": ["GptOssForCausalLM"]}, "gpt-oss"),
        ({"architectures": ["Qwen2ForCausalLM"]}, "Qwen 2.5"),  # no model_type: the architecture
    ],
)
def test_a_folder_with_an_unhelpful_name_is_known_by_its_config(
    tmp_path: Path, config: dict, family: str
) -> None:
    folder = _folder(tmp_path, "checkpoint-1200", **config)
    found = family_of(folder)
    assert found is not None and found.family.name == family
    assert found.how.startswith("config.json")


def test_unknown_or_unreadable_configs_give_no_family(tmp_path: Path) -> None:
    llama2 = _folder(tmp_path, "a", model_type="llama", architectures=["LlamaForCausalLM"], vocab_size=32000)
    assert family_of(llama2) is None and preset_for(llama2) == {}  # Llama 2: no tool parser of its own
    broken = tmp_path / "b"
    broken.mkdir()
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    assert family_of(str(broken)) is None
    assert family_of(str(tmp_path / "missing")) is None


def test_the_name_wins_over_the_config(tmp_path: Path) -> None:
    """A reasoning distil shares its base's architecture; its name says how it answers."""
    folder = _folder(
        tmp_path, "DeepSeek-R1-Distill-Qwen-7B", model_type="qwen2", architectures=["Qwen2ForCausalLM"]
    )
    assert preset_for(folder) == {"reasoning_parser": "deepseek_r1"}


TOOLS = ["hermes", "llama3_json", "mistral"]
REASONING = ["qwen3", "deepseek_r1"]


def test_a_misspelt_parser_is_refused_with_the_close_name() -> None:
    with pytest.raises(
        ProfileError,
        match=r"tool_parser 'hermess' is not one of this vLLM's parsers; did you mean 'hermes'\?",
    ):
        check_parsers("m", "hermess", None, tool_parsers=TOOLS, reasoning_parsers=REASONING)
    with pytest.raises(ProfileError, match=r"reasoning_parser 'r1' .* it has: deepseek_r1, qwen3"):
        check_parsers("m", "hermes", "r1", tool_parsers=TOOLS, reasoning_parsers=REASONING)
    check_parsers("m", "hermes", "qwen3", tool_parsers=TOOLS, reasoning_parsers=REASONING)
    check_parsers("m", None, None, tool_parsers=TOOLS, reasoning_parsers=REASONING)


def test_every_parser_in_the_table_is_one_vllm_has() -> None:
    """Against the installed vLLM's registries (imports vLLM, loads no model)."""
    pytest.importorskip("vllm")
    from autogen_troupe.models.vllm._engine import import_vllm
    from autogen_troupe.models.vllm._parsers import registered_parsers

    import_vllm()
    tools, reasoning = registered_parsers()
    for family in FAMILIES:
        check_parsers(
            family.name,
            family.settings.get("tool_parser"),
            family.settings.get("reasoning_parser"),
            tool_parsers=tools,
            reasoning_parsers=reasoning,
        )


async def test_a_wrong_parser_fails_before_the_model_loads(tmp_path: Path) -> None:
    pytest.importorskip("vllm")
    from autogen_troupe.models.vllm import VllmChatCompletionClient
    from autogen_troupe.models.vllm._engine import loaded_engines

    folder = _folder(tmp_path, "Qwen2.5-0.5B-Instruct", model_type="qwen2")  # no weights: a load would fail
    client = VllmChatCompletionClient(folder, tool_parser="hermes_xml")
    with pytest.raises(ProfileError, match="tool_parser 'hermes_xml' is not one of this vLLM's parsers"):
        await client.start()
    assert not any(key[0] == folder for key in loaded_engines())
    await client.close()


def test_an_agent_with_tools_on_a_model_without_a_tool_parser_is_refused(tmp_path: Path) -> None:
    from autogen_troupe import build_team
    from autogen_troupe.models.vllm import VllmChatCompletionClient
    from autogen_troupe.scenario._loader import load_scenario

    folder = _folder(tmp_path, "mystery-model", model_type="mystery")
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ntask: t\nteam:\n  kind: single\n  agents:\n"
        "    - {name: a, tools: ['autogen_troupe.tools.examples:trip_budget']}\n",
        encoding="utf-8",
    )
    client = VllmChatCompletionClient(folder)  # no family, no tool_parser given
    with pytest.raises(
        ProfileError, match="agent 'a' uses tools or handoffs, but its model cannot call tools"
    ):
        build_team(load_scenario(path), client)


def test_the_provider_says_the_family_and_where_it_came_from(tmp_path: Path) -> None:
    from autogen_troupe.models._endpoints import resolve_model
    from autogen_troupe.models._registry import get_provider
    from autogen_troupe.scenario._schema import ModelSpec

    folder = _folder(tmp_path, "my-ckpt", model_type="qwen3")
    spec = resolve_model(ModelSpec(provider="vllm", model=folder, reasoning_parser="deepseek_r1"))
    lines = get_provider("vllm").describe(spec)
    assert lines[:3] == [
        "family: Qwen3 (by its config.json model_type 'qwen3')",
        "tool_parser='hermes' (family)",
        "reasoning_parser='deepseek_r1' (profile)",
    ]
