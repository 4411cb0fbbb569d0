"""The package's door and terminal rules for text from outside (autogen_troupe/_text.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from autogen_troupe._text import bad_text_path, first_lone_surrogate, terminal_safe


def test_a_lone_surrogate_is_found_with_where_it_sits() -> None:
    assert first_lone_surrogate("ok") is None
    assert first_lone_surrogate("ab\ud800c") == 2
    assert bad_text_path({"task": "fine", "rows": [{"task": "x"}, {"task": "y\udfff"}]}) == "rows[1].task"
    assert bad_text_path({"a\ud800": 1}) == "(top) (a key)"
    assert bad_text_path("\ud800") == "(text)"
    assert bad_text_path({"n": 1, "list": [1, 2.0, None, "é😀"]}) is None


def test_terminal_controls_become_visible_text() -> None:
    hostile = "\x1b]0;pwned\x07\x1b[2J\rline\x9b31m\ttab\nnext"
    shown = terminal_safe(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\r" not in shown and "\x9b" not in shown
    assert shown == "\\x1b]0;pwned\\x07\\x1b[2J\\rline\\x9b31m\ttab\nnext"
    assert terminal_safe("a\ud800b") == "a\\ud800b"


@given(st.text())
def test_terminal_safe_output_always_encodes_and_has_no_controls(text: str) -> None:
    shown = terminal_safe(text)
    shown.encode("utf-8")
    assert not any(ord(c) < 32 and c not in "\t\n" for c in shown)
    assert not any(0x7F <= ord(c) <= 0x9F for c in shown)
