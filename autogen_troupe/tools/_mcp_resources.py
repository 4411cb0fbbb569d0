"""A server's resources, resource templates and prompts: what it offers (listed once it starts), the
`read_resource` tool an agent may be given, and a prompt or resource turned into text.

Resources reach the model through one tool, `read_resource(uri)`, whose description lists the server's
resources and templates (so a small model sees what it may read without a listing call); prompts become
text of a system message or the task (`{mcp_prompt: ...}` in the scenario).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import mcp_types
    from mcp import Client

__all__ = [
    "READ_RESOURCE",
    "Catalogue",
    "list_catalogue",
    "prompt_text",
    "read_resource_schema",
    "resource_text",
]

logger = logging.getLogger(__name__)

READ_RESOURCE = "read_resource"
"""The name of the tool that reads a server's resources (an agent's `rename` may change it)."""

_PAGES = 20  # listing pages read at most, so a server that pages for ever cannot hang the start
_SHOWN = 40  # resources and templates named in the tool's description at most
_DESCRIPTION_CHARS = 4000


@dataclass(frozen=True)
class Catalogue:
    """What a server offers besides tools, as listed when it started."""

    resources: tuple[mcp_types.Resource, ...] = ()
    templates: tuple[mcp_types.ResourceTemplate, ...] = ()
    prompts: tuple[mcp_types.Prompt, ...] = field(default=())
    serves_resources: bool = False
    serves_prompts: bool = False


async def _pages(fetch: Any, attr: str) -> list[Any]:
    out: list[Any] = []
    cursor: str | None = None
    for _ in range(_PAGES):
        page = await fetch(cursor=cursor)
        out.extend(getattr(page, attr))
        cursor = page.next_cursor
        if not cursor:
            break
    return out


async def list_catalogue(client: Client) -> Catalogue:
    """The server's resources, templates and prompts, for the capabilities it declares; a listing that
    fails leaves that part empty (its tools still work)."""
    caps = client.server_capabilities
    resources: list[Any] = []
    templates: list[Any] = []
    prompts: list[Any] = []
    try:
        if caps.resources is not None:
            resources = await _pages(client.list_resources, "resources")
            templates = await _pages(client.list_resource_templates, "resource_templates")
        if caps.prompts is not None:
            prompts = await _pages(client.list_prompts, "prompts")
    except Exception as exc:  # an optional listing: keep what came
        logger.debug("listing resources or prompts failed: %r", exc)
    return Catalogue(
        tuple(resources),
        tuple(templates),
        tuple(prompts),
        serves_resources=caps.resources is not None,
        serves_prompts=caps.prompts is not None,
    )


def read_resource_schema(server: str, catalogue: Catalogue) -> tuple[str, dict[str, Any]]:
    """The description and input schema of the `read_resource` tool for this server."""
    lines = [f"Read a resource of MCP server {server!r} by its URI."]
    if catalogue.resources:
        lines.append("Resources:")
        lines += [
            f"- {r.uri}" + (f" ({r.name}: {r.description})" if r.description else f" ({r.name})")
            for r in catalogue.resources[:_SHOWN]
        ]
    if catalogue.templates:
        lines.append("URI templates (fill in the {placeholders}):")
        lines += [
            f"- {t.uri_template}" + (f" ({t.description})" if t.description else "")
            for t in catalogue.templates[:_SHOWN]
        ]
    more = len(catalogue.resources) + len(catalogue.templates) - 2 * _SHOWN
    if more > 0:
        lines.append(f"... and up to {more} more.")
    description = "\n".join(lines)[:_DESCRIPTION_CHARS]
    schema = {
        "type": "object",
        "properties": {"uri": {"type": "string", "description": "The resource's URI."}},
        "required": ["uri"],
        "additionalProperties": False,
    }
    return description, schema


def resource_text(result: mcp_types.ReadResourceResult) -> str:
    """A resource's contents as text: text parts as they are, binary parts named."""
    parts = []
    for c in result.contents:
        text = getattr(c, "text", None)
        if isinstance(text, str):
            parts.append(text)
        else:
            parts.append(f"[binary {c.mime_type or 'content'} at {c.uri}, not shown]")
    return "\n".join(parts)


def prompt_text(result: mcp_types.GetPromptResult) -> str:
    """A prompt's messages as one text (a multi-message prompt keeps who says what)."""
    messages = result.messages
    texts = []
    for m in messages:
        content = m.content
        text = getattr(content, "text", None)
        if text is None:
            resource = getattr(content, "resource", None)
            text = getattr(resource, "text", None) or f"[{getattr(content, 'type', 'content')}]"
        texts.append(text if len(messages) == 1 else f"{m.role}: {text}")
    return "\n\n".join(texts)
