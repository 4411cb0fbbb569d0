"""MkDocs hook: the reference pages are written at build time from the code, so they cannot drift.

A page holds a marker where the generated part goes: `<!-- generated: scenario-schema -->` becomes the
scenario file reference, walked from the JSON Schema `troupe schema` prints (the pydantic model itself);
`<!-- generated: cli -->` becomes the command reference, walked from the Typer app's click command tree.
Both imports are cheap: the schema imports no AutoGen, and the CLI imports its heavy parts per command.
"""

from __future__ import annotations

import json
import re
from typing import Any

SCHEMA_MARKER = "<!-- generated: scenario-schema -->"
CLI_MARKER = "<!-- generated: cli -->"

Schema = dict[str, Any]


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fill the markers of a page (MkDocs calls this for every page)."""
    if SCHEMA_MARKER in markdown:
        markdown = markdown.replace(SCHEMA_MARKER, scenario_reference())
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    return markdown


# --- the scenario file, from its JSON Schema --------------------------------------------------------------


def scenario_reference() -> str:
    """One section per object of the schema (the file first, then in the order they are reached)."""
    from autogen_troupe.scenario import Scenario

    schema: Schema = Scenario.model_json_schema()
    defs: dict[str, Schema] = schema.get("$defs", {})
    order = ["Scenario"]
    seen = {"Scenario"}
    queue: list[Schema] = [schema]
    while queue:
        for name in _refs(queue.pop(0)):
            if name not in seen:
                seen.add(name)
                order.append(name)
                queue.append(defs[name])
    order += sorted(set(defs) - seen)  # none today; never leave one out
    nodes = {name: schema if name == "Scenario" else defs[name] for name in order}
    used_by: dict[str, list[str]] = {}
    for name in order:
        for key, prop in _properties(nodes[name]).items():
            for target in dict.fromkeys(_refs(prop)):
                used_by.setdefault(target, []).append(f"[`{key}`](#{_anchor(name)}) of {_title(name)}")
        if not _properties(nodes[name]):
            for target in dict.fromkeys(_refs(nodes[name])):
                used_by.setdefault(target, []).append(_title(name, link=True))
    parts = [_object_section(name, nodes[name], used_by.get(name, [])) for name in order]
    return "\n\n".join(parts) + "\n"


def _title(name: str, *, link: bool = False) -> str:
    text = "the file" if name == "Scenario" else f"`{name}`"
    return f"[{text}](#{_anchor(name)})" if link else text


def _properties(node: Schema) -> dict[str, Schema]:
    """The keys of an object, or of the mapping branch of a union (`McpUse`: a name, or a mapping)."""
    if "properties" in node:
        props: dict[str, Schema] = node["properties"]
        return props
    for branch in node.get("anyOf", []) + node.get("oneOf", []):
        if "properties" in branch:
            props = branch["properties"]
            return props
    return {}


def _refs(node: Any) -> list[str]:
    """The `$defs` names a schema node points to, in the order they appear."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$defs":
                continue
            if key == "$ref" and isinstance(value, str):
                found.append(value.rsplit("/", 1)[-1])
            else:
                found += _refs(value)
    elif isinstance(node, list):
        for value in node:
            found += _refs(value)
    return found


def _anchor(name: str) -> str:
    return name.lower()


def _object_section(name: str, node: Schema, used_by: list[str]) -> str:
    title = "The file (top level)" if name == "Scenario" else f"`{name}`"
    lines = [f"## {title} {{#{_anchor(name)}}}", ""]
    props = _properties(node)
    mapping = node
    if props and "properties" not in node:  # a union with one mapping branch
        mapping = next(b for b in node.get("anyOf", []) + node.get("oneOf", []) if "properties" in b)
        others = [_type(b) for b in node.get("anyOf", []) + node.get("oneOf", []) if b is not mapping]
        lines += [f"Written as {' or '.join(others)}, or as a mapping with the keys below.", ""]
    for text in dict.fromkeys(x for x in (node.get("description"), mapping.get("description")) if x):
        lines += [_cell(text), ""]
    if used_by:
        lines += [f"Used by: {', '.join(used_by)}.", ""]
    required = set(mapping.get("required", []))
    if not props:
        lines.append(f"Type: {_type(node)}.")
        return "\n".join(lines)
    lines += ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key, prop in props.items():
        default = "required" if key in required else _default(prop)
        meaning = " ".join(x for x in (prop.get("description", ""), _bounds(prop)) if x)
        lines.append(f"| `{key}` | {_type(prop)} | {default} | {_cell(meaning)} |")
    if mapping.get("additionalProperties") is False:
        lines += ["", "Any other key is an error."]
    return "\n".join(lines)


def _default(prop: Schema) -> str:
    if "default" not in prop or prop["default"] is None:
        return ""
    return _code(json.dumps(prop["default"], ensure_ascii=False))


def _type(node: Schema) -> str:
    """A schema node in words, with links to the objects it names."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"
    if "const" in node:
        return _code(json.dumps(node["const"], ensure_ascii=False))
    if "enum" in node:
        return " or ".join(_code(json.dumps(v, ensure_ascii=False)) for v in node["enum"])
    for union in ("anyOf", "oneOf"):
        if union in node:
            kinds = [_type(x) for x in node[union] if x.get("type") != "null"]
            return " or ".join(dict.fromkeys(kinds))
    kind = node.get("type")
    if kind == "array":
        items = node.get("items")
        return f"list of {_type(items)}" if items else "list"
    if kind == "object":
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return f"mapping of names to {_type(extra)}"
        return "mapping"
    if isinstance(kind, list):
        return " or ".join(k for k in kind if k != "null")
    words = {"string": "text", "integer": "whole number", "number": "number", "boolean": "true or false"}
    text = words.get(kind or "", kind or "any value")
    if node.get("format"):
        text += f" ({node['format']})"
    if node.get("writeOnly"):
        text += ", secret"
    return text


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}".replace(",", " ") if abs(value) >= 100000 else str(value)


def _bounds(node: Schema) -> str:
    """Limits the schema states, in words (of the node and of the branches of a union)."""
    said: list[str] = []
    for branch in [node, *node.get("anyOf", []), *node.get("oneOf", []), node.get("items") or {}]:
        words = []
        if "minimum" in branch:
            words.append(f"at least {_number(branch['minimum'])}")
        if "exclusiveMinimum" in branch:
            words.append(f"more than {_number(branch['exclusiveMinimum'])}")
        if "maximum" in branch:
            words.append(f"at most {_number(branch['maximum'])}")
        if "exclusiveMaximum" in branch:
            words.append(f"less than {_number(branch['exclusiveMaximum'])}")
        if "minLength" in branch:
            words.append(f"at least {branch['minLength']} characters")
        if "maxLength" in branch:
            words.append(f"at most {branch['maxLength']} characters")
        if "minItems" in branch:
            words.append(f"at least {branch['minItems']} items")
        if "pattern" in branch:
            words.append(f"matching {_code(branch['pattern'])}")
        if abs(branch.get("minimum", 0)) >= 2**63 or abs(branch.get("maximum", 0)) >= 2**63 - 1:
            words = [w for w in words if not w.startswith(("at least -9", "at most 9"))]
        if words and ", ".join(words) not in said:
            said.append(", ".join(words))
    return f"({'; '.join(said)}.)" if said else ""


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}"


def _cell(text: str) -> str:
    """Text for one table cell: one line, and a `|` that does not end the cell."""
    return " ".join(text.split()).replace("|", "\\|")


# --- the commands, from the Typer app ---------------------------------------------------------------------


def cli_reference() -> str:
    """A summary table of every command, then each command's usage, help, arguments and options."""
    import typer

    from autogen_troupe.cli import app

    root = typer.main.get_command(app)
    commands: list[tuple[list[str], Any, Any]] = []

    def walk(command: Any, path: list[str], parent: Any) -> None:
        ctx = command.context_class(command, info_name=path[-1], parent=parent)
        commands.append((path, command, ctx))
        for name, sub in getattr(command, "commands", {}).items():
            if not sub.hidden:
                walk(sub, [*path, name], ctx)

    walk(root, ["troupe"], None)
    lines = ["| command | what it does |", "| --- | --- |"]
    for path, command, _ctx in commands[1:]:
        summary = _cell(_prose(_first_line(command.help)))
        lines.append(f"| [`{' '.join(path)}`](#{'-'.join(path)}) | {summary} |")
    sections = ["\n".join(lines)]
    for path, command, ctx in commands:
        sections.append(_command_section(path, command, ctx))
    return "\n\n".join(sections) + "\n"


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n\n")[0]


def _command_section(path: list[str], command: Any, ctx: Any) -> str:
    name = " ".join(path)
    lines = [f"## `{name}` {{#{'-'.join(path)}}}", ""]
    lines += ["```text", _usage(path, command), "```", ""]
    help_text = (command.help or "").split("\f")[0].strip()
    for paragraph in help_text.split("\n\n"):
        lines += [_prose(paragraph), ""]
    subs = [n for n, s in getattr(command, "commands", {}).items() if not s.hidden]
    if subs:
        links = ", ".join(f"[`{name} {n}`](#{'-'.join([*path, n])})" for n in subs)
        lines += [f"Commands: {links}.", ""]
    arguments = [p for p in command.params if p.param_type_name == "argument" and not p.hidden]
    options = [p for p in command.params if p.param_type_name == "option" and not p.hidden]
    if arguments:
        lines += ["| argument | meaning |", "| --- | --- |"]
        for p in arguments:
            meaning = _prose(p.help or "") + ("" if p.required else " (optional)")
            lines.append(f"| `{_argument(p)}` | {_cell(meaning)} |")
        lines.append("")
    if options:
        lines += ["| option | meaning |", "| --- | --- |"]
        for p in options:
            record = p.get_help_record(ctx)
            if record is None:
                continue
            names, meaning = record
            lines.append(f"| `{names}` | {_cell(_prose(meaning))} |")
    return "\n".join(lines).rstrip()


def _argument(p: Any) -> str:
    text = (p.metavar or p.name or "").upper()
    if p.nargs == -1:
        text += "..."
    return text if p.required else f"[{text}]"


def _usage(path: list[str], command: Any) -> str:
    pieces = [" ".join(path)]
    if any(p.param_type_name == "option" for p in command.params) or getattr(command, "commands", None):
        pieces.append("[OPTIONS]")
    pieces += [_argument(p) for p in command.params if p.param_type_name == "argument" and not p.hidden]
    if getattr(command, "commands", None):
        pieces.append("COMMAND [ARGS]...")
    return " ".join(pieces)


_MARKDOWN = re.compile(r"([\\`*_\[\]<>#])")


def _prose(text: str) -> str:
    """Help text shown as text: Markdown's own characters escaped (`<` and `>` as entities)."""
    text = " ".join(text.split())
    text = _MARKDOWN.sub(lambda m: {"<": "&lt;", ">": "&gt;"}.get(m.group(1), "\\" + m.group(1)), text)
    return text
