"""Plain Python functions as tools, named in a scenario by import path `package.module:function`.

This is the one deliberate import from a scenario file (like uvicorn's `module:app`). The function's
signature and docstring are the schema the model sees. A tool is always built from the imported
function, never from stored source code: AutoGen's `FunctionTool` config holds the source and `exec`s
it on load, so our tools refuse to be dumped at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import importlib
import inspect
import re
import sys
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from autogen_core import CancellationToken
from autogen_core.tools import FunctionTool
from pydantic import BaseModel

from .._redact import redact_text
from ..errors import ToolCallError, ToolConfigError, UsageError
from ..scenario._schema import PythonToolUse

__all__ = ["PythonTool", "import_from", "load_python_tool"]

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what OpenAI-style function names allow


def _config_error(ref: str, reason: str) -> ToolConfigError:
    """The error for a tool that cannot be loaded; its reason (an import's message) may quote a secret."""
    return ToolConfigError(ref, redact_text(reason))


class PythonTool(FunctionTool):
    """A `FunctionTool` whose failures read well to a model and which is never serialised.

    What the model reads back (the result, or the error) has every secret masked.
    """

    def __init__(self, func: Callable[..., Any], *, ref: str, description: str, name: str) -> None:
        super().__init__(func, description=description, name=name)
        self.ref = ref

    async def run(self, args: BaseModel, cancellation_token: CancellationToken) -> Any:
        try:
            return await super().run(args, cancellation_token)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            # The workbench turns this into an is_error result; the type name makes bare errors readable.
            raise ToolCallError(redact_text(f"tool {self.name!r} failed: {type(e).__name__}: {e}")) from e

    async def run_json(
        self, args: Mapping[str, Any], cancellation_token: CancellationToken, call_id: str | None = None
    ) -> Any:
        try:
            return await super().run_json(args, cancellation_token, call_id=call_id)
        except (asyncio.CancelledError, ToolCallError):
            raise
        except Exception as e:  # arguments that do not fit the signature: pydantic quotes the input
            raise ToolCallError(redact_text(f"tool {self.name!r}: {type(e).__name__}: {e}")) from e

    def return_value_as_string(self, value: Any) -> str:
        return redact_text(super().return_value_as_string(value))

    def _to_config(self) -> Any:
        raise UsageError(
            f"python tool {self.ref!r} cannot be serialised: a FunctionTool config carries source code that "
            "is exec'd on load; name the function by its import path in a scenario instead"
        )


@contextlib.contextmanager
def _search_path(dirs: Sequence[str | Path]) -> Iterator[None]:
    added = [str(Path(d).resolve()) for d in dirs if str(Path(d).resolve()) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for d in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(d)


def import_from(module_name: str, search_path: Sequence[str | Path]) -> ModuleType | str:
    """The module, imported with `search_path` (the scenario's folder) searched first, or why it does not
    import, in one sentence: what a Python tool and an agent's imported `output_schema` both need."""
    try:
        with _search_path(search_path):
            return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        missing = e.name or module_name
        if module_name == missing or module_name.startswith(missing + "."):
            return (
                f"module {module_name!r} not found; install it, or run from the folder that holds it "
                "(or add that folder to PYTHONPATH)"
            )
        return f"importing {module_name!r} failed: it needs {missing!r}, which is not installed"
    except Exception as e:
        return f"importing {module_name!r} failed: {type(e).__name__}: {e}"


def _import(ref: str, module_name: str, search_path: Sequence[str | Path]) -> Any:
    module = import_from(module_name, search_path)
    if isinstance(module, str):
        raise _config_error(ref, module)
    return module


def _check_signature(ref: str, fn: Callable[..., Any]) -> None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        raise _config_error(
            ref, "has no inspectable signature (a builtin?); wrap it in a typed function"
        ) from None
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as e:
        raise _config_error(ref, f"its type hints cannot be resolved: {type(e).__name__}: {e}") from None
    for p in signature.parameters.values():
        if p.name == "cancellation_token":
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            star = "*" if p.kind is p.VAR_POSITIONAL else "**"
            raise _config_error(
                ref, f"parameter {star}{p.name} cannot be described to a model; name each argument"
            )
        if p.kind is p.POSITIONAL_ONLY:
            raise _config_error(
                ref, f"parameter {p.name!r} is positional-only; tools are called with keywords"
            )
    untyped = [p for p in signature.parameters if p not in hints and p != "cancellation_token"]
    if untyped:
        raise _config_error(
            ref, f"parameters without type hints: {', '.join(untyped)}; the types are the schema"
        )


def load_python_tool(use: PythonToolUse, *, search_path: Sequence[str | Path] = ()) -> PythonTool:
    """Import `use.ref` and wrap the function as a tool; `search_path` folders (e.g. the scenario's) are
    tried first while importing. Raises `ToolConfigError` with the reason when that cannot be done."""
    ref = use.ref
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise _config_error(ref, "expected an import path of the form 'package.module:function'")
    module = _import(ref, module_name, search_path)
    if not hasattr(module, attr):
        public = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n, None))]
        close = difflib.get_close_matches(attr, public, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise _config_error(ref, f"module {module_name!r} has no attribute {attr!r}{hint}")
    fn = getattr(module, attr)
    if isinstance(fn, type) or not callable(fn):
        raise _config_error(ref, f"{attr!r} is a {type(fn).__name__}, not a function")
    _check_signature(ref, fn)
    description = use.description or inspect.getdoc(fn)
    if not description:
        raise _config_error(ref, "has no docstring; write one (the model reads it) or set `description`")
    fn_name: str = getattr(fn, "__name__", "")  # a callable object may have none
    name = use.name or fn_name
    if not _TOOL_NAME.match(name):
        raise _config_error(ref, f"{name!r} is not a valid tool name (letters, digits, _ and -); set `name`")
    try:
        tool = PythonTool(fn, ref=ref, description=description, name=name)
        tool.schema  # noqa: B018 -- builds the JSON schema now, so a bad type fails here, not mid-run
    except Exception as e:
        raise _config_error(
            ref, f"cannot build a schema from its signature: {type(e).__name__}: {e}"
        ) from None
    return tool
