"""Where the OpenAI-compatible client lived before the rooms (0.1): AutoGen component configs saved then name
`autogen_troupe.runtime._openai.TroupeOpenAIClient` as their provider. Kept for one release; remove in 0.3."""

from ..models.openai import TroupeOpenAIClient, TroupeOpenAIConfig

__all__ = ["TroupeOpenAIClient", "TroupeOpenAIConfig"]
