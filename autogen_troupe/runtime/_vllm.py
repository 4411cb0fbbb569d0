"""Where the in-process vLLM client lived before the rooms (0.1): AutoGen component configs saved then name
`autogen_troupe.runtime._vllm.VllmChatCompletionClient` as their provider. Kept for one release; remove in
0.3."""

from ..models.vllm import VllmChatCompletionClient, VllmClientConfig

__all__ = ["VllmChatCompletionClient", "VllmClientConfig"]
