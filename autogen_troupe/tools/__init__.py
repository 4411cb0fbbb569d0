"""Tools agents use: MCP servers shared by a run, seen by each agent through its own workbench."""

from autogen_troupe.tools._mcp_workbench import McpServerPool, McpWorkbench

__all__ = ["McpServerPool", "McpWorkbench"]
