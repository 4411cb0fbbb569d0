"""The `vllm` provider: the in-process engine, as a `Provider` (see models/_provider.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .._facts import MODEL_FAMILIES, preset_for
from .._provider import Provider
from .._resolved import ResolvedModel, VllmModel

if TYPE_CHECKING:
    from autogen_core.models import ModelInfo

    from ...scenario._capabilities import Capabilities
    from ._client import VllmChatCompletionClient

__all__ = ["PROVIDER", "VllmProvider"]


class VllmProvider(Provider):
    """A model run by the vLLM engine in this process: it calls tools only with a tool parser, takes
    several system messages as they are, and its context length is the engine's `max_model_len`."""

    name: ClassVar[str] = "vllm"

    def create_client(self, spec: ResolvedModel, agent: str | None = None) -> VllmChatCompletionClient:
        from ._client import create_client

        return create_client(spec)

    def model_info(
        self, model_id: str | None, *, tool_parser: str | None = None, given: Any = None
    ) -> ModelInfo:
        info: dict[str, Any] = {
            "vision": False,
            "function_calling": tool_parser is not None,
            "json_output": True,
            "structured_output": True,
            "family": MODEL_FAMILIES["UNKNOWN"],
            "multiple_system_messages": True,
        }
        return self._with_given(info, given)

    def describe(self, spec: ResolvedModel) -> list[str]:
        """The model's family and parsers, and the engine settings this machine's device gets for `spec`,
        with the reason for each (no vLLM import)."""
        from .._families import family_of
        from ._device import settings_for

        if not isinstance(spec, VllmModel) or not spec.model:
            return []
        found = family_of(spec.model)
        family = (
            f"{found.family.name} (by its {found.how})"
            if found
            else "unknown (set tool_parser to call tools)"
        )
        preset = preset_for(spec.model)
        lines = [f"family: {family}"]
        for key in ("tool_parser", "reasoning_parser", "chat_template"):
            value = getattr(spec, key)
            if value is not None or preset.get(key) is not None:
                source = "profile" if value is not None else "family"
                lines.append(f"{key}={value if value is not None else preset[key]!r} ({source})")
        args = {**preset.get("engine_args", {}), **spec.engine_args}
        return lines + settings_for(args).lines()

    def capabilities(self, spec: ResolvedModel) -> Capabilities:
        """The engine decodes under vLLM's structured outputs and tool choices; reasoning text comes with
        a reasoning parser."""
        from .._capabilities import IN_PROCESS

        parser = spec.reasoning_parser if isinstance(spec, VllmModel) else None
        if parser is None and spec.model:
            parser = preset_for(spec.model).get("reasoning_parser")
        return IN_PROCESS.model_copy(update={"reasoning": parser is not None})

    def context_length(self, spec: ResolvedModel) -> int | None:
        if spec.context_length:
            return spec.context_length
        if not isinstance(spec, VllmModel):
            return None
        length = spec.engine_args.get("max_model_len")
        if length is None and spec.model:
            length = preset_for(spec.model).get("engine_args", {}).get("max_model_len")
        return length if isinstance(length, int) and length > 0 else None


PROVIDER = VllmProvider()
