"""Model profiles: presets, the user's profile file, overrides, resolution order, model info, redaction.

Every test passes its environment as a mapping (`env=`), never through os.environ.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import SecretStr

from autogen_troupe.errors import ProfileError
from autogen_troupe.models._endpoints import (
    DEFAULT_MODEL,
    PRESETS,
    Overrides,
    available_profiles,
    normalize_base_url,
    resolve_model,
    user_profiles_path,
)
from autogen_troupe.models._facts import MODEL_FAMILIES, infer_model_info
from autogen_troupe.models._resolved import OpenAIModel, redacted
from autogen_troupe.scenario._schema import ModelInfoSpec, ModelSpec

GENOS_ENV = {
    "GENOS_URL": "https://genos.example.com",
    "GENOS_SERVING_ID": "43",
    "GENOS_API_KEY": "genos-secret-key",
}


def profiles(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profiles.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- presets


def test_default_is_the_embedded_engine() -> None:
    spec = resolve_model(None, env={})
    assert spec.provider == "vllm"
    assert spec.model == DEFAULT_MODEL
    assert spec.force_tool_choice is True
    assert spec.settings.temperature == 0.0
    assert spec.profile == "default"
    assert resolve_model("default", env={}) == spec


def test_vllm_preset_defaults_and_optional_key() -> None:
    spec = resolve_model("vllm", env={})
    assert (spec.provider, spec.base_url, spec.model, spec.api_key) == (
        "openai",
        "http://127.0.0.1:8000/v1",
        None,
        None,
    )
    assert spec.api_key_env == "VLLM_API_KEY"
    spec = resolve_model(
        "vllm", env={"VLLM_BASE_URL": "http://gpu-box:9000", "VLLM_MODEL": "qwen", "VLLM_API_KEY": "k1"}
    )
    assert (spec.base_url, spec.model) == ("http://gpu-box:9000/v1", "qwen")
    assert spec.api_key == SecretStr("k1")


def test_lmdeploy_preset_uses_its_default_port() -> None:
    spec = resolve_model("lmdeploy", env={})
    assert spec.base_url == "http://127.0.0.1:23333/v1"
    assert spec.provider == "openai"


def test_aios_preset_joins_v1_and_uses_the_tutorial_key() -> None:
    spec = resolve_model("aios", env={"AIOS_BASE_URL": "http://aios-llm.internal:8080"})
    assert spec.base_url == "http://aios-llm.internal:8080/v1"  # as urljoin(AIOS_BASE_URL, "v1")
    assert spec.api_key is not None and spec.api_key.get_secret_value() == "EMPTY_KEY"
    spec = resolve_model(
        "aios", env={"AIOS_BASE_URL": "http://h/v1/", "AIOS_API_KEY": "real", "AIOS_MODEL": "m"}
    )
    assert (spec.base_url, spec.model, spec.api_key.get_secret_value()) == ("http://h/v1", "m", "real")


def test_genos_builds_the_serving_url_and_headers() -> None:
    spec = resolve_model("genos", env={**GENOS_ENV, "GENOS_USER_ID": "653"})
    assert spec.base_url == "https://genos.example.com/api/gateway/rep/serving/43/v1"
    assert spec.headers == {"x-genos-user-id": "653"}
    assert spec.api_key.get_secret_value() == "genos-secret-key"
    assert spec.model is None  # discovered from /v1/models, as GenOS's guide does


def test_genos_user_header_only_when_set_and_trailing_slash_tolerated() -> None:
    spec = resolve_model("genos", env={**GENOS_ENV, "GENOS_URL": "https://genos.example.com/"})
    assert spec.headers == {}
    assert spec.base_url == "https://genos.example.com/api/gateway/rep/serving/43/v1"


def test_genstudio_preset() -> None:
    spec = resolve_model(
        "genstudio", env={"GENSTUDIO_API_KEY": "gs", "GENSTUDIO_MODEL": "megrez-3b-instruct"}
    )
    assert spec.base_url == "https://cloud.infini-ai.com/maas/v1"
    assert spec.model == "megrez-3b-instruct"
    assert spec.api_key.get_secret_value() == "gs"


@pytest.mark.parametrize(
    ("preset", "env", "names"),
    [
        ("genos", {}, ["GENOS_URL", "GENOS_SERVING_ID", "GENOS_API_KEY"]),
        ("genos", {"GENOS_URL": "http://g", "GENOS_SERVING_ID": "1"}, ["GENOS_API_KEY"]),
        ("genstudio", {}, ["GENSTUDIO_API_KEY"]),
        ("aios", {}, ["AIOS_BASE_URL"]),
    ],
)
def test_missing_env_names_the_preset_and_every_variable(preset: str, env: dict, names: list[str]) -> None:
    with pytest.raises(ProfileError) as info:
        resolve_model(preset, env=env)
    message = str(info.value)
    assert repr(preset) in message
    for name in names:
        assert name in message


def test_every_preset_resolves_with_its_variables_set() -> None:
    env = {**GENOS_ENV, "GENSTUDIO_API_KEY": "x", "AIOS_BASE_URL": "http://aios"}
    for name in PRESETS:
        spec = resolve_model(name, env=env)
        assert spec.provider in ("openai", "vllm")
        assert spec.profile == name


# --------------------------------------------------------------------------- base URLs


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://host:8000", "http://host:8000/v1"),
        ("http://host:8000/", "http://host:8000/v1"),
        ("https://host/api/v1/", "https://host/api/v1"),
        ("https://host//maas//v1", "https://host/maas/v1"),
        ("http://host/v1?x=1", "http://host/v1?x=1"),
        ("  http://host/custom/path  ", "http://host/custom/path"),
    ],
)
def test_normalize_base_url(given: str, expected: str) -> None:
    assert normalize_base_url(given) == expected


@pytest.mark.parametrize("bad", ["localhost:8000", "ftp://host/v1", "http://"])
def test_bad_base_url_is_a_profile_error(bad: str) -> None:
    with pytest.raises(ProfileError, match="http:// or https://"):
        normalize_base_url(bad)


# --------------------------------------------------------------------------- overrides and order


def test_overrides_from_env_and_flags_win() -> None:
    env = {
        "TROUPE_PROFILE": "vllm",
        "TROUPE_MODEL": "from-env",
        "TROUPE_BASE_URL": "",
        "TROUPE_API_KEY": "ek",
    }
    o = Overrides.from_env(env)
    assert (o.profile, o.model, o.base_url) == ("vllm", "from-env", None)
    assert o.api_key == SecretStr("ek")
    assert "ek" not in repr(o)
    merged = o.merged(model="from-flag", profile=None, base_url="http://flag")
    assert (merged.profile, merged.model, merged.base_url) == ("vllm", "from-flag", "http://flag")
    assert Overrides().empty and not merged.empty


def test_resolution_order_flags_env_scenario_user_file_default(tmp_path: Path) -> None:
    path = profiles(
        tmp_path,
        """
        mine:
          base_url: http://user-file:8000/v1
          model: from-user-file
          temperature: 0.5
        """,
    )
    env = {"TROUPE_PROFILES": str(path)}
    scenario_ref = ModelSpec(profile="mine", model="from-scenario")

    spec = resolve_model(scenario_ref, env=env)
    assert (spec.model, spec.settings.temperature, spec.base_url) == (
        "from-scenario",
        0.5,
        "http://user-file:8000/v1",
    )

    env_over = Overrides.from_env({**env, "TROUPE_MODEL": "from-env"})
    assert resolve_model(scenario_ref, env=env, overrides=env_over).model == "from-env"

    flags = env_over.merged(model="from-flag")
    spec = resolve_model(scenario_ref, env=env, overrides=flags)
    assert spec.model == "from-flag"
    assert spec.settings.temperature == 0.5  # the user file still fills what nothing above sets

    assert resolve_model("mine", env=env).model == "from-user-file"
    assert resolve_model(None, env=env).provider == "vllm"  # nothing named: the embedded default


def test_profile_override_replaces_the_scenarios_ref() -> None:
    ref = ModelSpec(provider="openai", base_url="http://scenario/v1", model="s")
    spec = resolve_model(ref, env={"VLLM_MODEL": "served"}, overrides=Overrides(profile="vllm"))
    assert (spec.profile, spec.base_url, spec.model) == ("vllm", "http://127.0.0.1:8000/v1", "served")


def test_base_url_override_turns_the_engine_into_an_endpoint() -> None:
    ref = ModelSpec(max_tokens=64, tool_parser="hermes")
    spec = resolve_model(ref, env={}, overrides=Overrides(base_url="http://localhost:9000"))
    assert spec.provider == "openai"
    assert spec.base_url == "http://localhost:9000/v1"
    assert spec.model is None  # the other server's models are discovered
    # An endpoint model has no engine settings at all (the type has no place for them).
    assert isinstance(spec, OpenAIModel)
    assert not any(hasattr(spec, k) for k in ("tool_parser", "engine_args"))
    assert spec.force_tool_choice is None  # the embedded default's forcing was for its own small model
    assert spec.settings.temperature is None  # the embedded default's sampling was for its own small model
    assert spec.settings.max_tokens == 64  # the scenario's own settings stay


def test_api_key_override_replaces_the_key_source() -> None:
    spec = resolve_model("genstudio", env={}, overrides=Overrides(api_key="flag-key"))  # type: ignore[arg-type]
    assert spec.api_key.get_secret_value() == "flag-key"
    assert spec.api_key_env is None


# --------------------------------------------------------------------------- inline specs


def test_inline_spec_without_endpoint_layers_on_default() -> None:
    spec = resolve_model(ModelSpec(temperature=0.7, max_tokens=100), env={})
    assert (spec.provider, spec.model, spec.settings.temperature, spec.settings.max_tokens) == (
        "vllm",
        DEFAULT_MODEL,
        0.7,
        100,
    )


def test_inline_spec_with_base_url_stands_alone() -> None:
    spec = resolve_model(ModelSpec(base_url="http://localhost:8000", model="m"), env={})
    assert (spec.provider, spec.base_url, spec.settings.temperature, spec.profile) == (
        "openai",
        "http://localhost:8000/v1",
        None,
        None,
    )


def test_agent_settings_layer_on_the_scenarios_model() -> None:
    spec = resolve_model(ModelSpec(temperature=0.9), env={**GENOS_ENV}, parent="genos")
    assert spec.base_url.endswith("/serving/43/v1")
    assert spec.settings.temperature == 0.9
    assert spec.api_key.get_secret_value() == "genos-secret-key"


def test_inline_headers_and_extra_body_merge_over_the_profile(tmp_path: Path) -> None:
    path = profiles(
        tmp_path,
        """
        gw:
          base_url: http://gw/v1
          headers: {X-Team: a, Authorization: "Bearer ${GW_TOKEN}"}
          extra_body: {chat_template_kwargs: {enable_thinking: false}, top_k: 20}
        """,
    )
    ref = ModelSpec(
        profile="gw",
        headers={"authorization": "Bearer other", "X-Trace": "1"},
        extra_body={"chat_template_kwargs": {"foo": 1}},
    )
    spec = resolve_model(ref, env={"GW_TOKEN": "t0k"}, profiles_path=path)
    assert spec.headers == {"X-Team": "a", "authorization": "Bearer other", "X-Trace": "1"}
    assert spec.settings.extra_body == {
        "chat_template_kwargs": {"enable_thinking": False, "foo": 1},
        "top_k": 20,
    }


# --------------------------------------------------------------------------- the user's file


def test_user_profile_layers_on_a_preset_of_the_same_name(tmp_path: Path) -> None:
    path = profiles(
        tmp_path,
        """
        genos:
          profile: genos
          headers: {x-genos-user-id: "${MY_ID}"}
          model: llama-3.3-70b-instruct
        """,
    )
    spec = resolve_model("genos", env={**GENOS_ENV, "MY_ID": "7"}, profiles_path=path)
    assert spec.headers == {"x-genos-user-id": "7"}
    assert spec.model == "llama-3.3-70b-instruct"
    assert spec.base_url.endswith("/serving/43/v1")


def test_numeric_header_values_in_the_user_file_become_text(tmp_path: Path) -> None:
    path = profiles(tmp_path, "genos:\n  profile: genos\n  headers: {x-genos-user-id: 653, x-flag: true}\n")
    spec = resolve_model("genos", env=GENOS_ENV, profiles_path=path)
    assert spec.headers == {"x-genos-user-id": "653", "x-flag": "true"}


def test_user_profile_named_like_a_preset_replaces_it(tmp_path: Path) -> None:
    path = profiles(tmp_path, "vllm:\n  base_url: http://elsewhere:1234\n")
    spec = resolve_model("vllm", env={}, profiles_path=path)
    assert spec.base_url == "http://elsewhere:1234/v1"
    assert spec.api_key_env is None


def test_user_default_replaces_the_embedded_default(tmp_path: Path) -> None:
    path = profiles(tmp_path, "default:\n  profile: lmdeploy\n  model: internlm2\n")
    spec = resolve_model(None, env={"TROUPE_PROFILES": str(path)})
    assert (spec.provider, spec.base_url, spec.model) == ("openai", "http://127.0.0.1:23333/v1", "internlm2")


def test_user_profiles_chain(tmp_path: Path) -> None:
    path = profiles(
        tmp_path,
        """
        base: {base_url: "http://base:1/v1", temperature: 0.1, timeout_s: 30}
        middle: {profile: base, temperature: 0.2}
        top: {profile: middle, model: m}
        """,
    )
    spec = resolve_model("top", env={}, profiles_path=path)
    assert (spec.base_url, spec.settings.temperature, spec.timeout_s, spec.model) == (
        "http://base:1/v1",
        0.2,
        30,
        "m",
    )


def test_profile_cycle_is_detected(tmp_path: Path) -> None:
    path = profiles(tmp_path, "a: {profile: b}\nb: {profile: c}\nc: {profile: a}\n")
    with pytest.raises(ProfileError, match=r"cycle: a -> b -> c -> a"):
        resolve_model("a", env={}, profiles_path=path)


def test_unknown_setting_names_file_line_and_key(tmp_path: Path) -> None:
    path = profiles(tmp_path, "ok: {base_url: 'http://x'}\nbad:\n  base_ulr: http://x\n")
    with pytest.raises(ProfileError) as info:
        resolve_model("bad", env={}, profiles_path=path)
    message = str(info.value)
    assert f"{path}:3:3" in message
    assert "'base_ulr'" in message and "did you mean 'base_url'" in message
    assert resolve_model("ok", env={}, profiles_path=path).base_url == "http://x/v1"  # others still work


def test_bad_value_names_the_profile_and_key(tmp_path: Path) -> None:
    path = profiles(tmp_path, "p:\n  base_url: http://x\n  temperature: hot\n")
    with pytest.raises(ProfileError) as info:
        resolve_model("p", env={}, profiles_path=path)
    assert "temperature" in str(info.value) and "profile 'p'" in str(info.value)


def test_profile_must_be_a_mapping(tmp_path: Path) -> None:
    path = profiles(tmp_path, "p: just-a-string\n")
    with pytest.raises(ProfileError, match=r"profiles\.yaml:1:1: profile 'p' must be a mapping"):
        resolve_model("p", env={}, profiles_path=path)


def test_yaml_syntax_error_in_profile_file(tmp_path: Path) -> None:
    path = profiles(tmp_path, "p:\n  base_url: [unclosed\n")
    with pytest.raises(ProfileError, match=r"profiles\.yaml:\d+:\d+: YAML syntax error"):
        resolve_model("default", env={}, profiles_path=path)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = profiles(tmp_path, "- a\n- b\n")
    with pytest.raises(ProfileError, match="maps profile names to settings"):
        resolve_model("default", env={}, profiles_path=path)


def test_empty_or_missing_file_means_no_user_profiles(tmp_path: Path) -> None:
    empty = profiles(tmp_path, "# nothing yet\n")
    assert resolve_model("default", env={}, profiles_path=empty).provider == "vllm"
    assert resolve_model("default", env={}, profiles_path=tmp_path / "nope.yaml").provider == "vllm"


def test_unknown_profile_suggests_a_name(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        resolve_model("gneos", env={}, profiles_path=tmp_path / "nope.yaml")
    assert "did you mean 'genos'" in str(info.value)
    assert "missing or empty" in str(info.value)


def test_unset_variables_only_matter_in_profiles_used(tmp_path: Path) -> None:
    path = profiles(
        tmp_path,
        """
        used: {base_url: "http://${HOST:-localhost}:8000", model: m}
        unused: {base_url: "http://${NOT_SET}"}
        needs: {base_url: "http://x", headers: {X-Token: "${TOKEN_VAR}"}}
        """,
    )
    assert resolve_model("used", env={}, profiles_path=path).base_url == "http://localhost:8000/v1"
    with pytest.raises(ProfileError, match=r"TOKEN_VAR \(headers, from profile 'needs'"):
        resolve_model("needs", env={}, profiles_path=path)


def test_named_key_variable_must_be_set(tmp_path: Path) -> None:
    path = profiles(tmp_path, "p: {base_url: 'http://x', api_key_env: MY_KEY}\n")
    with pytest.raises(ProfileError, match="MY_KEY"):
        resolve_model("p", env={}, profiles_path=path)
    spec = resolve_model("p", env={"MY_KEY": "v"}, profiles_path=path)
    assert spec.api_key.get_secret_value() == "v"


def test_user_profiles_path() -> None:
    assert user_profiles_path({"TROUPE_PROFILES": "/a/b.yaml"}) == Path("/a/b.yaml")
    if sys.platform != "win32":
        assert user_profiles_path({"XDG_CONFIG_HOME": "/cfg", "HOME": "/h"}) == Path(
            "/cfg/troupe/profiles.yaml"
        )
        assert user_profiles_path({"HOME": "/h"}) == Path("/h/.config/troupe/profiles.yaml")
    assert user_profiles_path({}) is None


def test_available_profiles_lists_presets_and_the_users(tmp_path: Path) -> None:
    path = profiles(tmp_path, "mine: {base_url: 'http://x'}\n")
    names = available_profiles(env={}, profiles_path=path)
    assert set(PRESETS) <= set(names)
    assert names["mine"] == str(path)


# --------------------------------------------------------------------------- model info


@pytest.mark.parametrize(
    ("model_id", "family", "vision"),
    [
        ("meta-llama/Llama-3.3-70B-Instruct", "llama-3.3-70b", False),
        ("llama-3.3-8b-instruct", "llama-3.3-8b", False),
        ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "llama-4-scout", True),
        ("llama-4-maverick", "llama-4-maverick", True),
        ("mistralai/Mistral-Small-3.1-24B-Instruct", "mistral", False),
        ("ministral-8b-instruct", "ministral", False),
        ("codestral-22b", "codestral", False),
        ("pixtral-12b", "pixtral", True),
        ("deepseek-ai/DeepSeek-R1-Distill-Llama-70B", "r1", False),
        ("Qwen/QwQ-32B", "r1", False),
        ("some-model-r1", "r1", False),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "unknown", True),
        ("OpenGVLab/InternVL2-8B", "unknown", True),
        ("llava-hf/llava-1.5-7b-hf", "unknown", True),
        ("google/gemma-3-27b-it", "unknown", True),
        ("google/gemma-3-1b-it", "unknown", False),
        ("Qwen/Qwen2.5-7B-Instruct", "unknown", False),
        ("/model/snapshots/9eb2daaa8597bf192a8b0e73f848f3a102794df5", "unknown", False),
        (None, "unknown", False),
    ],
)
def test_infer_model_info(model_id: str | None, family: str, vision: bool) -> None:
    info = infer_model_info(model_id, None)
    assert info["family"] == family
    assert info["vision"] is vision
    assert info["function_calling"] is True and info["json_output"] is True
    assert info["structured_output"] is True and info["multiple_system_messages"] is False


def test_given_model_info_wins() -> None:
    given = ModelInfoSpec(vision=True, function_calling=False, family="llama-3.3-70b")
    info = infer_model_info("qwen2.5-7b", given)
    assert (info["vision"], info["function_calling"], info["family"], info["json_output"]) == (
        True,
        False,
        "llama-3.3-70b",
        True,
    )


def test_families_match_autogens() -> None:
    from autogen_core.models import ModelFamily

    for attr, value in MODEL_FAMILIES.items():
        assert getattr(ModelFamily, attr) == value


def test_inferred_info_is_valid_for_autogen() -> None:
    from autogen_core.models import ModelInfo, validate_model_info

    info = infer_model_info("anything", None)
    validate_model_info(info)  # type: ignore[arg-type]
    assert set(info) <= set(ModelInfo.__annotations__)


# --------------------------------------------------------------------------- redaction


def test_redacted_drops_secrets_and_keeps_the_variable_name() -> None:
    spec = resolve_model(
        ModelSpec(
            profile="genos",
            base_url="https://user:pw@genos.example.com/v1",
            headers={"Authorization": "Bearer abc", "X-API-Key": "k", "x-genos-user-id": "653"},
        ),
        env=GENOS_ENV,
    )
    data = redacted(spec)
    dumped = json.dumps(data)
    assert "genos-secret-key" not in dumped and "abc" not in dumped and "pw" not in dumped
    assert "api_key" not in data
    assert data["api_key_env"] == "GENOS_API_KEY"
    assert data["headers"] == {"Authorization": "***", "X-API-Key": "***", "x-genos-user-id": "653"}
    assert data["base_url"] == "https://***@genos.example.com/v1"


# --------------------------------------------------------------------------- import cost


def test_profiles_module_imports_no_autogen_or_openai() -> None:
    code = (
        "import sys, autogen_troupe.models._endpoints\n"
        "heavy = ('autogen_core', 'autogen_ext', 'openai', 'vllm')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in heavy]\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
