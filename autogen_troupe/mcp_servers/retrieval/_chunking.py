"""Splitting text and Markdown into passages of a few hundred characters, with line numbers and headings."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...scenario._base import Frozen

__all__ = ["Chunk", "chunk_text"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SENTENCE_END = re.compile("(?<=[.!?\\u3002\\uff01\\uff1f])\\s+")  # also CJK full stops


class Chunk(Frozen):
    """A passage of one file; lines are 1-based and inclusive."""

    source: str
    start_line: int
    end_line: int
    heading: str = ""
    text: str

    def embed_text(self) -> str:
        """What gets embedded: the heading trail gives a short paragraph its context."""
        return f"{self.heading}\n\n{self.text}" if self.heading else self.text


@dataclass
class _Block:
    first: int
    last: int
    text: str
    heading: str


def chunk_text(
    text: str, *, source: str, markdown: bool = True, max_chars: int = 1000, target_chars: int = 800
) -> list[Chunk]:
    """Split a document into chunks of about `target_chars` (at most `max_chars`).

    Markdown headings start a new chunk and are kept as the chunk's `heading` trail ("A > B"); blank
    lines separate paragraphs, which are packed together; an over-long paragraph is cut at sentence
    ends, and a sentence longer than `max_chars` at spaces.
    """
    if not 0 < target_chars <= max_chars:
        raise ValueError("need 0 < target_chars <= max_chars")
    return _pack(_blocks(text, markdown), source, max_chars, target_chars)


def _blocks(text: str, markdown: bool) -> list[_Block | None]:
    """The paragraphs of a document with their heading trail; None marks a section break."""
    trail: list[tuple[int, str]] = []
    blocks: list[_Block | None] = []  # None marks a section break
    para: list[tuple[int, str]] = []
    fenced = False

    def flush() -> None:
        body = "\n".join(line for _, line in para).strip()
        if body:
            blocks.append(_Block(para[0][0], para[-1][0], body, " > ".join(t for _, t in trail)))
        para.clear()

    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if markdown and stripped.startswith(("```", "~~~")):
            fenced = not fenced
        elif markdown and not fenced and (m := _HEADING.match(line)):
            flush()
            level = len(m.group(1))
            trail[:] = [t for t in trail if t[0] < level]
            if m.group(2):
                trail.append((level, m.group(2)))
            blocks.append(None)
            continue
        elif not stripped and not fenced:
            flush()
            continue
        para.append((number, line))
    flush()
    return blocks


def _pack(blocks: list[_Block | None], source: str, max_chars: int, target_chars: int) -> list[Chunk]:
    """Paragraphs packed into chunks of about `target_chars`, never across a section break."""
    chunks: list[Chunk] = []
    current: list[_Block] = []

    def emit() -> None:
        if current:
            body = "\n\n".join(b.text for b in current)
            chunks.append(
                Chunk(
                    source=source,
                    start_line=current[0].first,
                    end_line=current[-1].last,
                    heading=current[0].heading,
                    text=body,
                )
            )
        current.clear()

    for block in blocks:
        if block is None:
            emit()
            continue
        for piece in _split_long(block, max_chars):
            size = sum(len(b.text) for b in current) + 2 * len(current)
            if current and (size >= target_chars or size + len(piece.text) > max_chars):
                emit()
            current.append(piece)
    emit()
    return chunks


def _split_long(block: _Block, max_chars: int) -> list[_Block]:
    if len(block.text) <= max_chars:
        return [block]
    units: list[str] = []
    for sentence in _SENTENCE_END.split(block.text):
        while len(sentence) > max_chars:
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            units.append(sentence[:cut])
            sentence = sentence[cut:].lstrip()
        if sentence:
            units.append(sentence)
    pieces: list[str] = []
    for unit in units:
        if pieces and len(pieces[-1]) + 1 + len(unit) <= max_chars:
            pieces[-1] += " " + unit
        else:
            pieces.append(unit)
    out: list[_Block] = []
    pos = 0
    for piece in pieces:
        # Find where the piece starts to number its lines; joined spaces may stand for newlines.
        head = piece.split(" ", 1)[0]
        start = block.text.find(head, pos)
        start = pos if start < 0 else start
        end = start + len(piece)
        first = block.first + block.text.count("\n", 0, start)
        last = block.first + block.text.count("\n", 0, min(end, len(block.text)))
        out.append(_Block(first, min(last, block.last), piece, block.heading))
        pos = end
    return out
