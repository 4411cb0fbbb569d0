"""Tools agents use: MCP servers shared by a run (each agent sees its own workbench), Python functions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._local_code import python_tool_sources
    from ._mcp_workbench import McpServerPool, McpWorkbench
    from ._python import PythonTool, load_python_tool

__all__ = [
    "McpServerPool",
    "McpWorkbench",
    "PythonTool",
    "load_python_tool",
    "python_tool_sources",
]

_WHERE = {
    "McpServerPool": "._mcp_workbench",
    "McpWorkbench": "._mcp_workbench",
    "PythonTool": "._python",
    "load_python_tool": "._python",
    "python_tool_sources": "._local_code",
}
__getattr__ = lazy_exports(__name__, _WHERE)
