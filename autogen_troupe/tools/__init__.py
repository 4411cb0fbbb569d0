"""Tools agents use: MCP servers shared by a run (each agent sees its own workbench), Python functions."""

from autogen_troupe.tools._mcp_workbench import McpServerPool, McpWorkbench
from autogen_troupe.tools._python import PythonTool, ToolLoadError, load_python_tool

__all__ = ["McpServerPool", "McpWorkbench", "PythonTool", "ToolLoadError", "load_python_tool"]
