"""AutoGen component JSON (a team `dump_component()` wrote, or `troupe export`) as a scenario.

Read as data, never loaded: nothing in the file is imported or run (AutoGen's `FunctionTool` would `exec`
its source). The team kinds troupe has (RoundRobinGroupChat, one agent with max_turns 1 or on its own,
SelectorGroupChat, Swarm, GraphFlow with text conditions), AssistantAgent and UserProxyAgent,
OpenAIChatCompletionClient, McpWorkbench and the termination conditions come over; a part that does not
(a tool, another model provider, a condition troupe has no rule for, a key) is named in a note, never
carried silently. A team or agent kind troupe cannot run is an error at its line.
"""

from __future__ import annotations

import inspect
import re
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import Issue, ScenarioError
from ._interop import LIMITS_LABEL, MODEL_CLIENT, Note, keys_masked, provider_class

__all__ = ["import_autogen"]

Loc = tuple[str | int, ...]
_MAX_BYTES = 4 * 1024 * 1024
_TEAMS = {"RoundRobinGroupChat", "SelectorGroupChat", "Swarm", "GraphFlow"}
_SETTINGS = ("temperature", "top_p", "max_tokens", "seed", "stop", "frequency_penalty", "presence_penalty")
_INFO = ("vision", "function_calling", "json_output", "structured_output", "family")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class _Import:
    def __init__(self, path: Path, marks: Any) -> None:
        self.path, self.marks = path, marks
        self.notes: list[Note] = []
        self.servers: dict[str, dict[str, Any]] = {}

    def where(self, loc: Loc) -> str:
        from ..scenario._located import dotted

        return dotted(loc) or "the file"

    def fail(self, loc: Loc, message: str) -> ScenarioError:
        line, col = 1, 1
        for n in range(len(loc), -1, -1):
            mark = self.marks.value_marks.get(loc[:n])
            if mark is not None:
                line, col = mark.line + 1, mark.column + 1
                break
        return ScenarioError([Issue(self.path, line, col, message)])

    def note(self, loc: Loc, message: str) -> None:
        self.notes.append(Note(self.where(loc), message))

    def component(self, data: Any, loc: Loc, kind: str) -> tuple[str, dict[str, Any]]:
        if not isinstance(data, dict) or not isinstance(data.get("provider"), str):
            raise self.fail(loc, f"{self.where(loc)}: expected an AutoGen {kind} component (with `provider`)")
        config = data.get("config")
        if not isinstance(config, dict):
            raise self.fail(loc, f"{self.where(loc)}: the component has no `config` object")
        return provider_class(data["provider"]), config

    # ------------------------------------------------------------------ models

    def model(self, data: Any, loc: Loc) -> dict[str, Any] | None:
        cls, config = self.component(data, loc, "model")
        if f".{cls}" not in f".{MODEL_CLIENT}":
            self.note(loc, f"model client {cls} is not carried (troupe reaches OpenAI-compatible servers)")
            return None
        spec: dict[str, Any] = {"provider": "openai", "api_key_env": "OPENAI_API_KEY"}
        for key in ("base_url", "model", *_SETTINGS):
            if config.get(key) is not None:
                spec[key] = config[key]
        if config.get("timeout") is not None:
            spec["timeout_s"] = config["timeout"]
        if config.get("max_retries") is not None:
            spec["max_retries"] = config["max_retries"]
        info = config.get("model_info")
        if isinstance(info, dict):
            spec["model_info"] = {k: info[k] for k in _INFO if k in info}
        if "api_key" in config:
            self.note((*loc, "config", "api_key"), "a key in the file is not carried: set OPENAI_API_KEY")
        if config.get("default_headers"):
            self.note((*loc, "config", "default_headers"), "not carried (they may hold keys): add headers")
        known = {"base_url", "model", "timeout", "max_retries", "model_info", "api_key", "default_headers"}
        for key in sorted(set(config) - known - set(_SETTINGS)):
            self.note((*loc, "config", key), "not carried")
        return spec

    # ------------------------------------------------------------------ agents

    def agent(self, data: Any, loc: Loc) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The agent's scenario entry, and its model spec (None: none, or not carried)."""
        cls, config = self.component(data, loc, "agent")
        name = config.get("name")
        if not isinstance(name, str):
            raise self.fail(loc, f"{self.where(loc)}: the agent has no name")
        if cls == "UserProxyAgent":
            out: dict[str, Any] = {"name": name, "kind": "user"}
            if config.get("description") not in (None, "A human user"):
                out["description"] = config["description"]
            return out, None
        if cls != "AssistantAgent":
            raise self.fail(loc, f"{self.where(loc)}: troupe has no agent like AutoGen's {cls}")
        from autogen_agentchat.agents import AssistantAgent

        out = {"name": name}
        if isinstance(config.get("description"), str):
            out["description"] = config["description"]
        default_system = inspect.signature(AssistantAgent.__init__).parameters["system_message"].default
        if config.get("system_message") not in (None, default_system):
            out["system_message"] = config["system_message"]
        if config.get("model_client_stream") is False:
            out["stream"] = False
        if config.get("reflect_on_tool_use"):  # false is what AutoGen makes of troupe's unset (None)
            out["reflect_on_tool_use"] = True
        if config.get("max_tool_iterations", 1) != 1:
            out["max_tool_iterations"] = config["max_tool_iterations"]
        handoffs = [h.get("target") if isinstance(h, dict) else h for h in config.get("handoffs") or []]
        if handoffs:
            out["handoffs"] = handoffs
        self.workbenches(config.get("workbench"), (*loc, "config", "workbench"), out)
        for key in ("tools", "memory", "output_content_type", "structured_message_factory"):
            if config.get(key):
                self.note((*loc, "config", key), "not carried")
        if config.get("model_context") is not None:
            context = self.context(config["model_context"], (*loc, "config", "model_context"))
            if context is not None:
                out["model_context"] = context
        model = self.model(config.get("model_client"), (*loc, "config", "model_client"))
        return out, model

    def workbenches(self, data: Any, loc: Loc, out: dict[str, Any]) -> None:
        items = data if isinstance(data, list) else [] if data is None else [data]
        for j, wb in enumerate(items):
            at = (*loc, j) if isinstance(data, list) else loc
            cls, config = self.component(wb, at, "workbench")
            if cls in ("StaticWorkbench", "StaticStreamWorkbench"):
                for tool in config.get("tools") or []:
                    tool_name = (tool.get("config") or {}).get("name", "?") if isinstance(tool, dict) else "?"
                    self.note(at, f"tool {tool_name!r} is not carried (give it as a Python tool)")
                continue
            if cls != "McpWorkbench":
                self.note(at, f"workbench {cls} is not carried")
                continue
            server = self.mcp_server(config.get("server_params"), (*at, "config", "server_params"))
            if server is None:
                continue
            label = wb.get("label") if isinstance(wb.get("label"), str) else ""
            name = (
                _NOT_NAME.sub("_", label)
                if label and label != "McpWorkbench"
                else f"mcp{len(self.servers) + 1}"
            )
            self.servers[name] = server
            renames = {
                k: v["name"]
                for k, v in (config.get("tool_overrides") or {}).items()
                if isinstance(v, dict) and isinstance(v.get("name"), str)
            }
            out.setdefault("mcp", []).append({"server": name, "rename": renames} if renames else name)

    def mcp_server(self, params: Any, loc: Loc) -> dict[str, Any] | None:
        if not isinstance(params, dict):
            self.note(loc, "no server_params: not carried")
            return None
        if params.get("type") == "StdioServerParams":
            server: dict[str, Any] = {
                "command": params.get("command"),
                "args": list(params.get("args") or []),
            }
            if params.get("env"):
                server["env"] = params["env"]
            if params.get("cwd"):
                server["cwd"] = params["cwd"]
            if params.get("read_timeout_seconds") not in (None, 60.0, 60):
                server["call_timeout_s"] = params["read_timeout_seconds"]
            return server
        if params.get("type") in ("StreamableHttpServerParams", "SseServerParams") and params.get("url"):
            if params.get("headers"):
                self.note((*loc, "headers"), "not carried (they may hold keys)")
            return {"url": params["url"]}
        self.note(loc, f"MCP server {params.get('type')!r} is not carried")
        return None

    def context(self, data: Any, loc: Loc) -> dict[str, Any] | None:
        cls, config = self.component(data, loc, "model context")
        if cls == "UnboundedChatCompletionContext":
            return {"kind": "unbounded"}
        if cls == "BufferedChatCompletionContext":
            return {"kind": "buffered", "last": config.get("buffer_size")}
        if cls == "HeadAndTailChatCompletionContext":
            return {"kind": "head_and_tail", "head": config.get("head_size"), "tail": config.get("tail_size")}
        if cls == "TokenLimitedChatCompletionContext":
            return {"kind": "token_limited", "max_tokens": config.get("token_limit")}
        self.note(loc, f"model context {cls} is not carried")
        return None

    # ------------------------------------------------------------------ termination

    def rule(self, data: Any, loc: Loc) -> dict[str, Any] | None:
        cls, config = self.component(data, loc, "termination")
        if cls in ("OrTerminationCondition", "AndTerminationCondition"):
            parts = [
                self.rule(c, (*loc, "config", "conditions", i)) for i, c in enumerate(config["conditions"])
            ]
            key = "any" if cls.startswith("Or") else "all"
            kept: list[dict[str, Any]] = []
            for p in parts:  # `a | b | c` is Or(Or(a, b), c) in AutoGen: one `any` of three here
                kept.extend(p[key] if p is not None and set(p) == {key} else [p] if p is not None else [])
            if not kept:
                return None
            return kept[0] if len(kept) == 1 else {key: kept}
        simple = {
            "TextMentionTermination": ("text_mention", "text"),
            "MaxMessageTermination": ("max_messages", "max_messages"),
            "TokenUsageTermination": ("token_usage", "max_total_token"),
            "TimeoutTermination": ("timeout_s", "timeout_seconds"),
            "HandoffTermination": ("handoff", "target"),
            "SourceMatchTermination": ("source_match", "sources"),
        }
        if cls in simple and config.get(simple[cls][1]) is not None:
            if cls == "MaxMessageTermination" and config.get("include_agent_event"):
                self.note(loc, "include_agent_event is not carried: troupe counts messages")
            if cls == "TokenUsageTermination" and set(config) - {"max_total_token"}:
                self.note(loc, "only max_total_token is carried")
            key, field = simple[cls]
            return {key: config[field]}
        self.note(loc, f"termination condition {cls} is not carried")
        return None

    def termination(self, data: Any, loc: Loc) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The team's rule and the scenario's limits (read from the part labelled `troupe limits`)."""
        if data is None:
            return None, {}
        _, config = self.component(data, loc, "termination")
        if data.get("label") == LIMITS_LABEL:
            return None, self.limits(data)
        conditions = config.get("conditions") or []
        if data["provider"].endswith("OrTerminationCondition") and conditions:
            last = conditions[-1]
            if isinstance(last, dict) and last.get("label") == LIMITS_LABEL:
                rest = [
                    self.rule(c, (*loc, "config", "conditions", i)) for i, c in enumerate(conditions[:-1])
                ]
                kept = [r for r in rest if r is not None]
                rule = None if not kept else kept[0] if len(kept) == 1 else {"any": kept}
                return rule, self.limits(last)
        return self.rule(data, loc), {}

    def limits(self, data: dict[str, Any]) -> dict[str, Any]:
        """The limits that differ from troupe's defaults."""
        from ..scenario._fields import DEFAULT_MAX_MESSAGES, DEFAULT_TIMEOUT_S

        out: dict[str, Any] = {}
        for c in data.get("config", {}).get("conditions") or []:
            cfg = c.get("config") or {}
            if cfg.get("max_messages", DEFAULT_MAX_MESSAGES) != DEFAULT_MAX_MESSAGES:
                out["max_messages"] = cfg["max_messages"]
            if cfg.get("timeout_seconds", DEFAULT_TIMEOUT_S) != DEFAULT_TIMEOUT_S:
                out["timeout_s"] = cfg["timeout_seconds"]
        return out

    # ------------------------------------------------------------------ the team

    def scenario(self, data: Any) -> dict[str, Any]:
        cls, config = self.component(data, (), "team")
        if cls == "AssistantAgent":  # one agent on its own: a team of kind single
            agent, model = self.agent(data, ())
            one: dict[str, Any] = {"name": _NOT_NAME.sub("_", agent["name"]), "model": model or "default"}
            one["team"] = {"kind": "single", "agents": [agent]}
            return {**one, "mcp_servers": self.servers} if self.servers else one
        if data.get("component_type") not in (None, "team") or cls not in _TEAMS:
            raise self.fail(("provider",), f"provider: troupe has no team like AutoGen's {cls}")
        parts = config.get("participants")
        if not isinstance(parts, list) or not parts:
            raise self.fail(("config",), "config.participants: a team needs at least one agent")
        agents, models = [], []
        for i, p in enumerate(parts):
            agent, model = self.agent(p, ("config", "participants", i))
            agents.append(agent)
            models.append(model)
        team: dict[str, Any] = {"kind": _kind(cls, len(agents), config.get("max_turns"))}
        team["agents"] = agents
        rule, limits = self.termination(
            config.get("termination_condition"), ("config", "termination_condition")
        )
        if rule is not None:
            team["termination"] = rule
        if config.get("max_turns") is not None and team["kind"] != "single":
            team["max_turns"] = config["max_turns"]
        selector = None
        if cls == "SelectorGroupChat":
            selector = self.selector(config, team)
        if cls == "GraphFlow":
            self.graph(config.get("graph"), ("config", "graph"), team)
        used = [m for m in models if m is not None]
        common = Counter(repr(m) for m in used).most_common(1)
        shared = next(m for m in used if repr(m) == common[0][0]) if common else None
        for agent, model in zip(agents, models, strict=True):
            if model is not None and model != shared:
                agent["model"] = model
        if selector is not None and selector != shared:
            team["selector_model"] = selector
        name = str(config.get("name") or "imported")
        out: dict[str, Any] = {"name": _NOT_NAME.sub("_", name)[:64].strip("._-") or "imported"}
        if config.get("description") and config["description"] != "A team of agents.":
            out["description"] = config["description"]
        out["model"] = shared if shared is not None else "default"
        out["team"] = team
        if self.servers:
            out["mcp_servers"] = self.servers
        if limits:
            out["limits"] = limits
        return out

    def selector(self, config: dict[str, Any], team: dict[str, Any]) -> dict[str, Any] | None:
        from autogen_agentchat.teams import SelectorGroupChat

        default = inspect.signature(SelectorGroupChat.__init__).parameters["selector_prompt"].default
        if config.get("selector_prompt") not in (None, default):
            team["selector_prompt"] = config["selector_prompt"]
        if config.get("allow_repeated_speaker"):
            team["allow_repeated_speaker"] = True
        if config.get("max_selector_attempts", 3) != 3:
            self.note(("config", "max_selector_attempts"), "not carried: troupe's selector tries 3 times")
        self.note(("config",), "troupe's selector falls back to the next agent in order, not the previous")
        return self.model(config.get("model_client"), ("config", "model_client"))

    def graph(self, data: Any, loc: Loc, team: dict[str, Any]) -> None:
        nodes = data.get("nodes") if isinstance(data, dict) else None
        if not isinstance(nodes, dict):
            raise self.fail(loc, f"{self.where(loc)}: a GraphFlow needs its graph's nodes")
        edges, settings = [], {}
        for name, node in nodes.items():
            if not isinstance(node, dict):
                continue
            if node.get("activation", "all") != "all":
                settings[name] = {"activation": node["activation"]}
            for k, e in enumerate(node.get("edges") or []):
                edge: dict[str, Any] = {"from": name, "to": e.get("target")}
                cond = e.get("condition")
                if isinstance(cond, str):
                    edge["when"] = {"mentions": cond}
                    self.note(
                        (*loc, "nodes", name, "edges", k, "condition"),
                        "AutoGen tests a substring, troupe's mentions a whole word",
                    )
                elif cond is not None:
                    self.note((*loc, "nodes", name, "edges", k, "condition"), "not carried (not a text)")
                if e.get("activation_condition", "all") != "all" or e.get("activation_group") not in (
                    None,
                    e.get("target"),
                ):
                    self.note((*loc, "nodes", name, "edges", k), "activation groups are not carried")
                edges.append(edge)
        team["edges"] = edges
        if settings:
            team["nodes"] = settings
        start = data.get("default_start_node")
        if isinstance(start, str):
            team["entry"] = [start]


def _kind(cls: str, agents: int, max_turns: Any) -> str:
    if cls == "RoundRobinGroupChat":
        return "single" if agents == 1 and max_turns == 1 else "round_robin"
    return {"SelectorGroupChat": "selector", "Swarm": "swarm", "GraphFlow": "graph"}[cls]


def import_autogen(path: Path) -> tuple[dict[str, Any], list[Note]]:
    """The scenario (plain data, validated) for the AutoGen team in the JSON file at `path`, and the notes
    on what was not carried over. Raises ScenarioError at the file's line for what cannot be read."""
    from ..scenario._files import FileProblem, compose_yaml, read_text
    from ..scenario._located import read_located
    from ..scenario._schema import Scenario

    try:  # JSON is YAML: composed, it tells each value's line
        root = compose_yaml(read_text(path, limit=_MAX_BYTES, what="component file"), path)
    except FileProblem as e:
        raise ScenarioError([Issue(path, e.line, e.column, e.message)]) from None
    if root is None:
        raise ScenarioError([Issue(path, 1, 1, "the file is empty; expected an AutoGen team component")])
    data, marks = read_located(root, path)
    if marks.issues:
        raise ScenarioError(marks.issues)
    job = _Import(path, marks)
    scenario = job.scenario(data)
    from pydantic import ValidationError

    from ..scenario._located import dotted

    scenario, masked = keys_masked(scenario)  # never copied into the YAML: it belongs in the environment
    for loc in dict.fromkeys(masked):
        job.notes.append(
            Note(
                dotted(loc),
                "a key in the file is not carried (*** or ${NAME}): give it through the environment",
            )
        )

    try:
        Scenario.model_validate(scenario)
    except ValidationError as e:
        from ..scenario._loader import _data_loc  # the loader's own walk: pydantic's union tags dropped

        first = e.errors()[0]
        where = dotted(_data_loc(scenario, tuple(first["loc"]))) or "(top level)"
        said = str(first["msg"]).removeprefix("Value error, ")
        raise job.fail((), f"the team does not make a valid scenario: {where}: {said}") from None
    return scenario, job.notes
