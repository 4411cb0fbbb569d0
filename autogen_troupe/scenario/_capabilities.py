"""The `capabilities:` block of a model profile: what an OpenAI-compatible endpoint can do, as `troupe
probe` measured it (or as its owner knows it). Apart from `_schema.py` to keep that module small.

Every field left unset means "not known", and a run then uses nothing that depends on it: the request
stays as it was before capabilities existed. `models/_capabilities.py` reads this block, and says what
the in-process engine (which needs none) can do.
"""

from __future__ import annotations

from pydantic import Field

from ._base import Frozen

__all__ = ["CAPABILITY_NAMES", "Capabilities"]


class Capabilities(Frozen):
    """What an endpoint honours; a field left out is not known (and not used)."""

    tool_calls: bool | None = Field(None, description="Answers with tool calls when tool_choice is 'auto'.")
    tool_required: bool | None = Field(
        None, description="Honours tool_choice 'required' (a tool call is always made)."
    )
    tool_named: bool | None = Field(None, description="Honours a named tool_choice (that tool is called).")
    parallel_tool_calls: bool | None = Field(None, description="Makes several tool calls in one answer.")
    json_schema: bool | None = Field(
        None, description="Decodes under response_format {type: json_schema} (the answer is valid JSON)."
    )
    choice: bool | None = Field(
        None,
        description="Decodes under vLLM's `structured_outputs` request field (choice, regex, JSON): "
        "the selector's answer is then one of the eligible names.",
    )
    stream_usage: bool | None = Field(
        None, description="Reports token usage in streams when asked (stream_options.include_usage)."
    )
    template_tools: bool | None = Field(
        None,
        description="Renders the prompt's tools from `chat_template_kwargs.tools` while decoding a required "
        "call under the request's `tools` (vLLM's server): a long list of allowed values is decoded under "
        "without being read out to the model.",
    )
    reasoning: bool | None = Field(None, description="Answers carry reasoning text (reasoning_content).")


CAPABILITY_NAMES = tuple(Capabilities.model_fields)
