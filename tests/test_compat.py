"""What 0.1 users saved keeps loading for one release: AutoGen component configs naming the old paths."""

from __future__ import annotations

import pytest
from autogen_core import ComponentModel
from autogen_core.models import ChatCompletionClient

from autogen_troupe.models.openai import TroupeOpenAIClient
from autogen_troupe.models.vllm import VllmChatCompletionClient


@pytest.mark.parametrize(
    ("provider", "config", "cls"),
    [
        (
            "autogen_troupe.runtime._openai.TroupeOpenAIClient",
            {
                "model": "qwen2.5-7b-instruct",
                "base_url": "http://127.0.0.1:9/v1",
                "api_key_env": "NO_SUCH_KEY",
                "model_info": {
                    "vision": False,
                    "function_calling": True,
                    "json_output": True,
                    "family": "unknown",
                    "structured_output": True,
                },
            },
            TroupeOpenAIClient,
        ),
        (
            "autogen_troupe.runtime._vllm.VllmChatCompletionClient",
            {"model": "smollm2-135m-instruct", "tool_parser": "hermes", "chat_template": "chatml_hermes"},
            VllmChatCompletionClient,
        ),
    ],
)
async def test_a_config_saved_by_0_1_loads(provider: str, config: dict, cls: type) -> None:
    saved = ComponentModel(provider=provider, component_type="model", config=config)
    client = ChatCompletionClient.load_component(saved)
    assert isinstance(client, cls)
    # ... and what it saves now names where the class lives now.
    assert client.dump_component().provider == cls.component_provider_override
    assert "runtime" not in cls.component_provider_override
    # a public face (no private module in the path), so moving a file never breaks a saved config again
    assert not any(part.startswith("_") for part in cls.component_provider_override.split("."))
    await client.close()


@pytest.mark.parametrize("cls", [TroupeOpenAIClient, VllmChatCompletionClient])
def test_configs_saved_by_0_2_keep_loading(cls: type) -> None:
    """0.2 saved the private module's path; it still names the same class."""
    module = "openai" if cls is TroupeOpenAIClient else "vllm"
    old = f"autogen_troupe.models.{module}._client.{cls.__name__}"
    mod, _, name = old.rpartition(".")
    assert getattr(__import__(mod, fromlist=[name]), name) is cls
