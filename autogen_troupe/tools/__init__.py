"""Tools agents use: MCP servers shared by a run (each agent sees its own workbench), Python functions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._local_code import python_tool_sources
    from ._mcp_auth import LoginUI
    from ._mcp_client import ELICITATION_POLICIES, McpClientOptions, progress_callback, terminal_ask
    from ._mcp_inspect import Target, auth_from_options, open_server, resolve_target
    from ._mcp_session import ServerHandle
    from ._mcp_tokens import TokenFile
    from ._mcp_workbench import McpServerPool, McpWorkbench
    from ._python import PythonTool, load_python_tool

__all__ = [
    "ELICITATION_POLICIES",
    "LoginUI",
    "McpClientOptions",
    "McpServerPool",
    "McpWorkbench",
    "PythonTool",
    "ServerHandle",
    "Target",
    "TokenFile",
    "auth_from_options",
    "load_python_tool",
    "open_server",
    "progress_callback",
    "python_tool_sources",
    "resolve_target",
    "terminal_ask",
]

_WHERE = {
    "McpServerPool": "._mcp_workbench",
    "McpWorkbench": "._mcp_workbench",
    "PythonTool": "._python",
    "load_python_tool": "._python",
    "python_tool_sources": "._local_code",
    "terminal_ask": "._mcp_client",
    "ELICITATION_POLICIES": "._mcp_client",
    "McpClientOptions": "._mcp_client",
    "progress_callback": "._mcp_client",
    "LoginUI": "._mcp_auth",
    "Target": "._mcp_inspect",
    "auth_from_options": "._mcp_inspect",
    "resolve_target": "._mcp_inspect",
    "open_server": "._mcp_inspect",
    "TokenFile": "._mcp_tokens",
    "ServerHandle": "._mcp_session",
}
__getattr__ = lazy_exports(__name__, _WHERE)
