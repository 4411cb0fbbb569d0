"""A scenario's team as AutoGen component JSON that plain `autogen-agentchat` 0.7.5 loads with
`Team.load_component` and runs, with no troupe import.

The team is built from AutoGen's own classes (agents, teams, conditions, `OpenAIChatCompletionClient`)
and dumped with `dump_component()`, so the JSON is what AutoGen itself writes. Then:
- no key is written: `api_key` is left out, and openai reads `OPENAI_API_KEY` when the team is loaded;
  headers (which may hold keys) are left out too, each named in a note;
- the scenario's `limits` are OR-ed into the termination condition under the label `troupe limits`;
- an MCP server becomes autogen-ext's `McpWorkbench` (its `label` is the server's name): the nearest
  component, loadable only beside `mcp<2` (autogen-ext's MCP module does not import with mcp 2.x);
- every provider is checked to sit in `autogen_core`, `autogen_agentchat` or `autogen_ext` (#7463).

A part with no plain-AutoGen equivalent is refused with the whole list (a Python tool: AutoGen would store
its source and `exec` it on load; an MCP prompt as a system message; a graph condition that is not a plain
`mentions`; `max_visits`; an allow-list of MCP tools), each at its file's line. A part that maps to a near
equivalent (the selector's fallback, troupe's default model context, a user agent's answer timeout) is
carried over with a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import Issue, ProfileError, ScenarioError
from ..scenario._guards import MaxToolCalls, RepeatedMessage, RepeatedToolCall
from ..scenario._schema import Agent, McpUse, ModelContext, ModelRef, Scenario, StdioServer, TextMention
from ._interop import ALLOWED_NAMESPACES, LIMITS_LABEL, MODEL_CLIENT, Note, components, keys_masked

__all__ = ["export_autogen"]


class _Export:
    """One export: the refusals (scenario path → why) and notes collected on the way."""

    def __init__(self, scenario: Scenario, overrides: Any, env: Mapping[str, str] | None) -> None:
        self.sc = scenario
        self.overrides, self.env = overrides, env
        self.refused: list[tuple[tuple[str | int, ...], str]] = []
        self.notes: list[Note] = []
        self.workbenches: dict[str, list[dict[str, Any]]] = {}  # agent → its McpWorkbench components
        self.contexts: dict[str, bool] = {}  # agent → whether it has a model_context of its own

    def refuse(self, loc: tuple[str | int, ...], why: str) -> None:
        if (loc, why) not in self.refused:  # the scenario's model, refused once, not per agent
            self.refused.append((loc, why))

    def note(self, loc: tuple[str | int, ...], message: str, *, lost: bool = False) -> None:
        from ..scenario._located import dotted

        note = Note(dotted(loc), message, lost)
        if note not in self.notes:  # the scenario's model, noted once, not per agent
            self.notes.append(note)

    # ------------------------------------------------------------------ models

    def client(self, ref: ModelRef | None, loc: tuple[str | int, ...]) -> Any:
        from autogen_ext.models.openai import OpenAIChatCompletionClient

        from ..models._endpoints import resolve_model
        from ..models._facts import infer_model_info

        try:
            m = resolve_model(  # an agent's own settings layer on the scenario's model, as a run does
                ref,
                overrides=self.overrides,
                env=self.env,
                parent=None if ref is self.sc.model else self.sc.model,
                offline=True,
            )
        except ProfileError as e:
            self.refuse(loc, f"its model does not resolve: {e}")
            return None
        if m.provider != "openai" or not getattr(m, "base_url", ""):
            self.refuse(
                loc,
                f"its model is provider {m.provider!r}, which plain AutoGen cannot reach: give the "
                "OpenAI-compatible server with --base-url and --model (or --profile)",
            )
            return None
        if not m.model:
            self.refuse(loc, "its model has no id (troupe asks the server's /models): give it with --model")
            return None
        if m.headers:
            self.note(loc, f"headers {sorted(m.headers)} are left out (AutoGen writes them in plain text)")
        if m.api_key_env not in (None, "OPENAI_API_KEY"):
            self.note(loc, f"the key is read from OPENAI_API_KEY when loaded: set it to ${m.api_key_env}")
        if m.settings.extra_body:
            self.note(loc, "extra_body is left out (AutoGen's component config drops it)")
        info: Any = infer_model_info(m.model, m.model_info)  # what a troupe run tells AutoGen
        settings = m.settings.as_dict()
        settings.pop("extra_body", None)
        if "stop" in settings:
            settings["stop"] = list(settings["stop"])
        extra: dict[str, Any] = {}
        if m.timeout_s is not None:
            extra["timeout"] = m.timeout_s
        if m.max_retries is not None:
            extra["max_retries"] = m.max_retries
        return OpenAIChatCompletionClient(
            model=m.model, base_url=m.base_url, api_key="unused", model_info=info, **settings, **extra
        )

    # ------------------------------------------------------------------ agents

    def context(self, choice: ModelContext | None, client: Any, loc: tuple[str | int, ...]) -> Any:
        from autogen_core.model_context import (
            BufferedChatCompletionContext,
            HeadAndTailChatCompletionContext,
            TokenLimitedChatCompletionContext,
            UnboundedChatCompletionContext,
        )

        if choice is None:
            return None  # AutoGen's default (every message); noted once for the team
        if choice.kind == "buffered":
            return BufferedChatCompletionContext(buffer_size=choice.last)
        if choice.kind == "head_and_tail":
            return HeadAndTailChatCompletionContext(head_size=choice.head, tail_size=choice.tail)
        if choice.kind == "token_limited" and choice.max_tokens is not None and client is not None:
            self.note(loc, "AutoGen counts the tokens with tiktoken, troupe estimates them")
            return TokenLimitedChatCompletionContext(client, token_limit=choice.max_tokens)
        if choice.kind == "token_limited":
            self.note(loc, "sized by the model's context length in troupe; unbounded in AutoGen", lost=True)
        return UnboundedChatCompletionContext()

    def agent(self, a: Agent, i: int) -> Any:
        from autogen_agentchat.agents import AssistantAgent, UserProxyAgent

        loc: tuple[str | int, ...] = ("team", "agents", i)
        if a.kind == "user":
            for key in ("answer_timeout_s", "default_answer"):
                if key in a.model_fields_set:
                    self.note(
                        (*loc, key),
                        "AutoGen's UserProxyAgent waits for its input function, no timeout",
                        lost=True,
                    )
            return UserProxyAgent(a.name, description=a.description)
        if a.kind == "a2a":
            self.refuse((*loc, "kind"), "a remote A2A agent has no AutoGen 0.7.5 equivalent")
            return None
        if a.output_schema is not None:  # AutoGen's team refuses StructuredMessage[...] it did not register
            self.refuse(
                (*loc, "output_schema"),
                "a team loaded from AutoGen's component JSON cannot run an agent with structured answers "
                "(AutoGen 0.7.5 refuses its StructuredMessage as not registered)",
            )
        own = a.model is not None  # else the scenario's model, as agents/_build.py gives a run
        client = self.client(a.model if own else self.sc.model, (*loc, "model") if own else ("model",))
        if a.system_message is not None and not isinstance(a.system_message, str):
            self.refuse((*loc, "system_message"), "an MCP prompt has no AutoGen equivalent (give the text)")
        for j, _ in enumerate(a.tools):
            self.refuse(
                (*loc, "tools", j),
                "a Python tool would be AutoGen's FunctionTool, which stores its source and runs it with "
                "exec on load: not exported",
            )
        self.workbenches[a.name] = [self.mcp(use, (*loc, "mcp", j)) for j, use in enumerate(a.mcp)]
        choice = a.model_context or self.sc.team.model_context
        self.contexts[a.name] = choice is not None
        kwargs: dict[str, Any] = {}
        if isinstance(a.system_message, str):
            kwargs["system_message"] = a.system_message
        ctx = self.context(choice, client, (*loc, "model_context"))
        if ctx is not None:
            kwargs["model_context"] = ctx
        if a.handoffs:
            kwargs["handoffs"] = list(a.handoffs)
        if client is None:
            return None
        return AssistantAgent(
            a.name,
            model_client=client,
            description=a.description,
            model_client_stream=a.stream,
            reflect_on_tool_use=a.reflect_on_tool_use,
            max_tool_iterations=a.max_tool_iterations,
            **kwargs,
        )

    def mcp(self, use: McpUse, loc: tuple[str | int, ...]) -> dict[str, Any]:
        """An MCP server as autogen-ext's McpWorkbench component (written by hand: autogen-ext's MCP
        module does not import beside mcp 2.x)."""
        server = self.sc.mcp_servers[use.server]
        for key in ("allow", "deny", "resources", "call_timeout_s"):
            if key in use.model_fields_set and getattr(use, key):
                self.refuse((*loc, key), f"McpWorkbench has no {key}")
        self.note(loc, "an McpWorkbench: it loads only beside mcp<2 (pip install 'autogen-ext[mcp]' 'mcp<2')")
        if server.arguments:
            self.note(
                ("mcp_servers", use.server, "arguments"),
                "not carried: McpWorkbench gives the model the server's own schemas and checks no value",
                lost=True,
            )
        if server.approve is not None or use.approve is not None:
            said = ("mcp_servers", use.server) if server.approve is not None else loc
            self.note(
                (*said, "approve"), "not carried: AutoGen calls a tool without asking anyone", lost=True
            )
        if isinstance(server, StdioServer):
            params: dict[str, Any] = {
                "type": "StdioServerParams",
                "command": server.command,
                "args": list(server.args),
                "env": self.env_of(use.server, server.env) or None,
                "read_timeout_seconds": server.call_timeout_s,
            }
            if server.cwd is not None:
                params["cwd"] = server.cwd
            if server.pass_env:
                self.note(
                    ("mcp_servers", use.server, "pass_env"), "not carried: the server gets its env only"
                )
        else:
            if server.headers:
                self.note(("mcp_servers", use.server, "headers"), "left out (they may hold keys)")
            params = {
                "type": "StreamableHttpServerParams",
                "url": server.url,
                "timeout": server.call_timeout_s,
            }
        return {
            "provider": "autogen_ext.tools.mcp.McpWorkbench",
            "component_type": "workbench",
            "version": 1,
            "component_version": 1,
            "description": "A workbench that wraps an MCP server.",
            "label": use.server,
            "config": {
                "server_params": params,
                "tool_overrides": {k: {"name": v} for k, v in use.rename.items()},
            },
        }

    def env_of(self, name: str, env: Mapping[str, str]) -> dict[str, str]:
        """A stdio server's variables as the file writes them: the loader expanded `${VAR}` (a key, often),
        which is never written; a variable taken from the environment is left out, with a note."""
        raw = _raw(self.sc.source).get("mcp_servers", {}).get(name, {}).get("env", {})
        out: dict[str, str] = {}
        for key in env:
            written = raw.get(key) if isinstance(raw, dict) else None
            if isinstance(written, str) and "${" not in written:
                out[key] = written
            else:
                self.note(
                    ("mcp_servers", name, "env", key),
                    "left out (taken from the environment, it may be a key): set it where AutoGen runs",
                    lost=True,
                )
        return out

    # ------------------------------------------------------------------ the team

    def termination(self) -> Any:
        from autogen_agentchat.base import OrTerminationCondition
        from autogen_agentchat.conditions import MaxMessageTermination, TimeoutTermination

        from ..scenario._rules import _walk_rules
        from ._build import build_termination

        team = self.sc.team
        kept = ("max_messages", "timeout_s")
        guards = [k for k, v in self.sc.limits.model_dump().items() if k not in kept and v]
        if guards:  # on by default: a note, since plain AutoGen runs the team without them
            self.note(
                ("limits",),
                f"troupe's guards ({', '.join(guards)}) have no AutoGen equivalent: the exported team keeps "
                "max_messages and timeout_s only",
            )
        limits = OrTerminationCondition(
            MaxMessageTermination(self.sc.limits.max_messages), TimeoutTermination(self.sc.limits.timeout_s)
        )
        if team.termination is None:
            return limits
        for path, rule in _walk_rules(team.termination, ("team", "termination")):
            if isinstance(rule, TextMention) and rule.sources:
                self.note(
                    (*path, "sources"),
                    "AutoGen 0.7.5 does not save a text mention's sources: it stops on the text from anyone",
                    lost=True,
                )
            if isinstance(rule, RepeatedToolCall | RepeatedMessage | MaxToolCalls):
                self.refuse(path, "troupe's guards (loop breakers, tool-call caps) have no AutoGen twin")
        return OrTerminationCondition(build_termination(team.termination, names=False), limits)

    def team(self) -> Any:
        from autogen_agentchat.teams import RoundRobinGroupChat, SelectorGroupChat, Swarm

        team = self.sc.team
        agents = [self.agent(a, i) for i, a in enumerate(team.agents)]
        if any(a.kind == "assistant" and a.model_context is None for a in team.agents) and not (
            team.model_context
        ):
            self.note(
                ("team",), "troupe trims each agent's history to its model's context; AutoGen keeps all"
            )
        termination = self.termination()
        selector: Any = None
        if team.kind == "selector":
            ref = team.selector_model if team.selector_model is not None else self.sc.model
            selector = self.client(ref, ("team", "selector_model") if team.selector_model else ("model",))
            self.note(
                ("team",),
                "after 3 unusable answers AutoGen's selector picks the previous speaker again; troupe's "
                "picks the next agent in order",
            )
        if team.kind == "graph":
            self.graph_checks()
        if self.refused or None in agents:
            return None
        common: dict[str, Any] = {"termination_condition": termination, "max_turns": team.max_turns}
        if team.kind in ("round_robin", "single"):
            if team.kind == "single" and team.max_turns is None:
                common["max_turns"] = 1
            return RoundRobinGroupChat(agents, **common)
        if team.kind == "selector":
            extra: dict[str, Any] = {}
            if team.selector_prompt is not None:
                extra["selector_prompt"] = team.selector_prompt
            return SelectorGroupChat(
                agents,
                model_client=selector,
                allow_repeated_speaker=team.allow_repeated_speaker,
                **extra,
                **common,
            )
        if team.kind == "swarm":
            return Swarm(agents, **common)
        return self.graph(agents, common)

    def graph_checks(self) -> None:
        from ..scenario._graph import Mentions, entry_nodes

        team = self.sc.team
        for name, node in team.nodes.items():
            if node.max_visits is not None:
                self.refuse(("team", "nodes", name, "max_visits"), "AutoGen's GraphFlow has no visit cap")
        kinds: dict[str, set[bool]] = {}
        for i, e in enumerate(team.edges):
            kinds.setdefault(e.from_, set()).add(e.when is not None)
            if e.when is None:
                continue
            if not isinstance(e.when, Mentions) or e.when.ignore_case:
                self.refuse(
                    ("team", "edges", i, "when"),
                    "in AutoGen a condition other than a text is a Python callable, which is not saved",
                )
            else:
                self.note(
                    ("team", "edges", i, "when"),
                    "AutoGen tests a substring ('APPROVE' is in 'DISAPPROVE'); troupe a whole word",
                )
        for name, has in kinds.items():
            if len(has) == 2:
                first = next(i for i, e in enumerate(team.edges) if e.from_ == name)
                self.refuse(
                    ("team", "edges", first),
                    f"{name!r} has conditional and default edges out; AutoGen needs all of one kind",
                )
        names = [a.name for a in team.agents]
        if team.entry and team.entry != tuple(entry_nodes(names, team.edges, None)) and len(team.entry) > 1:
            self.refuse(("team", "entry"), "AutoGen starts at one entry, or at every node no edge leads to")

    def graph(self, agents: list[Any], common: dict[str, Any]) -> Any:
        from autogen_agentchat.teams import DiGraphBuilder, GraphFlow

        team = self.sc.team
        builder = DiGraphBuilder()
        by_name = {a.name: a for a in agents}
        for a in agents:
            node = team.nodes.get(a.name)
            builder.add_node(a, activation=node.activation if node is not None else "all")
        for e in team.edges:
            condition = getattr(e.when, "mentions", None)
            builder.add_edge(by_name[e.from_], by_name[e.to], condition=condition)
        if team.entry and len(team.entry) == 1:
            builder.set_entry_point(by_name[team.entry[0]])
        try:
            graph = builder.build()
        except ValueError as err:
            self.refuse(("team", "edges"), f"AutoGen refuses the graph: {err}")
            return None
        return GraphFlow(agents, graph=graph, termination_condition=common["termination_condition"])


def _raw(path: Path | None) -> dict[str, Any]:
    """The scenario file's data as written, `${VAR}` not expanded ({} when there is no file)."""
    if path is None:
        return {}
    from ..scenario._files import compose_yaml, read_text
    from ..scenario._located import read_located

    root = compose_yaml(read_text(path, limit=4 * 1024 * 1024, what="scenario"), path)
    data = read_located(root, path)[0] if root is not None else {}
    return data if isinstance(data, dict) else {}


def _line(path: Path | None, loc: tuple[str | int, ...]) -> tuple[int, int]:
    """Where `loc` sits in the scenario file (1, 1 when it cannot be told)."""
    if path is None:
        return 1, 1
    try:
        from ..scenario._loader import load_yaml_located

        _, located = load_yaml_located(path, env={})
    except Exception:
        return 1, 1
    for n in range(len(loc), 0, -1):
        mark = located.value_marks.get(loc[:n]) or located.key_marks.get(loc[:n])
        if mark is not None:
            return mark.line + 1, mark.column + 1
    return 1, 1


def export_autogen(
    scenario: Scenario, *, overrides: Any = None, env: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[Note]]:
    """The scenario's team as AutoGen component JSON (a dict), and the notes on what was mapped to a
    near equivalent. Raises ScenarioError listing every part with no plain-AutoGen equivalent."""
    job = _Export(scenario, overrides, env)
    team = job.team()
    path = scenario.source
    if job.refused or team is None:
        where = path or Path(scenario.name)
        issues = [
            Issue(where, *_line(path, loc), f"cannot export to AutoGen: {why}") for loc, why in job.refused
        ]
        raise ScenarioError(issues or [Issue(where, 1, 1, "cannot export to AutoGen")])
    data = team.dump_component().model_dump(mode="json")
    data["config"]["name"] = scenario.name
    if scenario.description:
        data["config"]["description"] = scenario.description
    term = data["config"]["termination_condition"]
    limits = term if scenario.team.termination is None else term["config"]["conditions"][-1]
    limits["label"] = LIMITS_LABEL
    for participant in data["config"]["participants"]:
        config = participant["config"]
        name = config.get("name")
        if name in job.workbenches:
            config["workbench"] = job.workbenches[name]
            if not job.contexts[name]:
                config.pop("model_context", None)  # AutoGen's default on load; an import reads no choice
    for _, component in components(data):
        if component["provider"] == MODEL_CLIENT:
            component["config"].pop("api_key", None)  # openai reads OPENAI_API_KEY on load
        if not component["provider"].startswith(ALLOWED_NAMESPACES):  # never: we build from AutoGen's own
            raise AssertionError(f"{component['provider']} is outside AutoGen's provider namespaces")
    from ..scenario._located import dotted

    data, masked = keys_masked(data)  # a key written in the scenario (not as ${VAR}) stays out
    for loc in dict.fromkeys(masked):
        job.notes.append(
            Note(
                dotted(loc),
                "a key written in the scenario is left out (*** or ${NAME}): set it where the team runs",
            )
        )
    return data, job.notes
