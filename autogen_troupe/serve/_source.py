"""A scenario file's text as the page shows it: secrets masked by where they sit as well as by shape.

Shape rules (`redact_text`) catch `Authorization: Bearer X` and `?token=X`, but a key in a flow mapping
(`{api_key: "X"}`) or a header of any name (`X-Custom-Secret: X`) has no telling shape. So the YAML is
composed, and every scalar under a secret-looking key (`api_key`, `token`, `password`, a header name such
as `X-Api-Token`, an MCP server's `env:` variable such as `GITHUB_TOKEN`) is replaced in the text itself,
its quotes kept; the rest of the text stays as written, byte for byte. `${VAR}` references stay: they name
where a secret comes from, not the secret.
"""

from __future__ import annotations

import yaml

from .._redact import MASK, is_secret_name, redact_text
from ..scenario._files import FileProblem, compose_yaml

__all__ = ["masked_source"]


def _spans(node: yaml.Node, secret: bool, out: list[tuple[int, int, str | None]]) -> None:
    """(start, end, quote style) of every scalar to mask under `node`."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            named = isinstance(key, yaml.ScalarNode) and is_secret_name(str(key.value))
            _spans(value, named, out)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _spans(item, secret, out)
    elif isinstance(node, yaml.ScalarNode) and secret:
        value = str(node.value).strip()
        if value and not (value.startswith("${") and value.endswith("}")) and value not in ("null", "~"):
            out.append((node.start_mark.index, node.end_mark.index, node.style))


def masked_source(text: str, name: str = "scenario") -> str:
    """`text` with secrets masked by place (values under secret-looking keys) and by shape."""
    try:
        root = compose_yaml(text, name)
    except FileProblem:
        root = None  # no longer valid YAML: shapes only
    spans: list[tuple[int, int, str | None]] = []
    if root is not None:
        _spans(root, False, spans)
    out = text
    for start, end, style in sorted(spans, reverse=True):
        if style in ('"', "'"):
            shown = f"{style}{MASK}{style}"
        elif style in ("|", ">"):
            tail = len(out[start:end]) - len(out[start:end].rstrip("\n"))
            shown = f'"{MASK}"' + "\n" * tail
        else:
            shown = MASK
        out = out[:start] + shown + out[end:]
    return redact_text(out)
