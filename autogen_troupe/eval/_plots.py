"""The report's plots, drawn as inline SVG by this module: bars, intervals and histograms need nothing
more, so every install gets them (matplotlib, the `[report]` extra before, was 40 MB the README's first
install line left out). Drawing them ourselves also lets the layout keep labels apart: each label's box
is estimated, and a label that would overlap another moves to a row of its own. Sizes are CSS pixels
and text is at least 12 px, so the page reads at 100% zoom.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

from ._stats import Rate

__all__ = ["histogram_svg", "pass_rates_svg", "scores_svg"]

WIDTH = 540
FONT = 13  # labels
TICK = 12  # tick labels
_BLUE, _GREEN, _RED, _GREY, _INK = "#3b6fb6", "#2e8b57", "#c0392b", "#666666", "#222222"
_MAX_NAME = 34  # characters of a bar's name shown (the whole name is its tooltip)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def text_width(text: str, size: float) -> float:
    """A generous estimate of `text`'s width in px (wide glyphs of common sans fonts are ~0.62 em)."""
    return len(text) * size * 0.62 + 2


def _text(x: float, y: float, text: str, *, size: int = TICK, anchor: str = "start", fill: str = _INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}">'
        f"{_e(text)}</text>"
    )


def _svg(width: float, height: float, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{_e(title)}" '
        'font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif">' + "".join(body) + "</svg>"
    )


def _short(name: str) -> str:
    return name if len(name) <= _MAX_NAME else name[: _MAX_NAME - 1] + "…"


def _nice_ticks(low: float, high: float, *, whole: bool = False, most: int = 6) -> tuple[list[float], int]:
    """Round tick values covering [low, high], at most about `most` of them (whole numbers for counts),
    and the decimals that tell them apart."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(1, most - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if whole:
        step = max(1.0, round(step))
    first = math.floor(low / step) * step
    decimals = 0 if step >= 1 else len(f"{step:.10f}".rstrip("0").split(".")[1])
    return [first + i * step for i in range(math.ceil((high - first) / step) + 1)], decimals


def place_rows(labels: Sequence[tuple[float, float]], gap: float = 6) -> list[int]:
    """For labels given as (left, right) boxes on one line, the row each goes to so that no two in a row
    overlap: the first row with room, in the order given."""
    rows: list[list[tuple[float, float]]] = []
    out = []
    for left, right in labels:
        for i, taken in enumerate(rows):
            if all(right + gap <= a or left >= b + gap for a, b in taken):
                taken.append((left, right))
                out.append(i)
                break
        else:
            rows.append([(left, right)])
            out.append(len(rows) - 1)
    return out


def pass_rates_svg(rates: Mapping[str, Rate], *, title: str = "pass rate per expectation") -> str:
    """A bar per name: its pass rate, a whisker for its 95% interval and the rate written after it."""
    names = list(rates)
    left = min(260.0, max((text_width(_short(n), TICK) for n in names), default=40) + 12)
    right = WIDTH - 48  # room for "100%" after a full bar
    top, row = 10, 26
    height = top + row * len(names) + 48
    span = right - left
    body = [f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + row * len(names)}" stroke="{_GREY}"/>']
    for i, name in enumerate(names):
        r = rates[name]
        y = top + i * row
        color = _GREEN if r.rate >= 0.8 else _BLUE if r.rate >= 0.5 else _RED
        body.append(f"<g><title>{_e(name)}: {r.passed}/{r.total}</title>")
        body.append(_text(left - 6, y + 17, _short(name), anchor="end"))
        body.append(
            f'<rect x="{left}" y="{y + 5}" width="{r.rate * span:.1f}" height="{row - 10}" fill="{color}"/>'
        )
        lo, hi = left + r.low * span, left + r.high * span
        mid = y + row / 2
        body.append(
            f'<path d="M{lo:.1f} {mid}H{hi:.1f}M{lo:.1f} {mid - 5}v10M{hi:.1f} {mid - 5}v10" '
            f'stroke="{_INK}" fill="none"/>'
        )
        body.append(_text(max(hi, left + r.rate * span) + 5, y + 17, f"{r.rate * 100:.0f}%"))
        body.append("</g>")
    axis = top + row * len(names)
    for t in (0, 25, 50, 75, 100):
        x = left + t / 100 * span
        body.append(f'<line x1="{x}" y1="{axis}" x2="{x}" y2="{axis + 4}" stroke="{_GREY}"/>')
        body.append(_text(x, axis + 18, f"{t}", anchor="middle"))
    body.append(
        _text(
            left + span / 2,
            axis + 38,
            "runs that hold it, % (whiskers: 95% interval)",
            size=FONT,
            anchor="middle",
        )
    )
    return _svg(WIDTH, height, body, title)


def scores_svg(scores: Mapping[str, int], low: int, high: int, passing: float) -> str:
    """How many runs the judge gave each score, passing scores green, a dashed line at the pass mark."""
    left, right, top, plot_h = 40, WIDTH - 12, 26, 150
    slots = high - low + 1
    slot = (right - left) / slots
    most = max(scores.values(), default=1) or 1
    counts = {float(k): v for k, v in scores.items()}
    body = [_text(4, 16, "runs", size=FONT, fill=_GREY)]
    base = top + plot_h
    step = max(1, math.ceil(slots / 12))
    for i in range(slots):
        s = low + i
        x = left + i * slot
        n = counts.get(float(s), 0)
        h = n / most * (plot_h - 6)
        color = _GREEN if s >= passing else _RED
        if n:
            body.append(
                f'<rect x="{x + slot * 0.2:.1f}" y="{base - h:.1f}" width="{slot * 0.6:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>score {s}: {n} runs</title></rect>'
            )
            if slots <= 21:
                body.append(_text(x + slot / 2, base - h - 4, str(n), anchor="middle"))
        if i % step == 0:
            body.append(_text(x + slot / 2, base + 16, str(s), anchor="middle"))
    line = left + (passing - low) * slot
    body.append(
        f'<line x1="{line:.1f}" y1="{top}" x2="{line:.1f}" y2="{base}" stroke="{_GREY}" '
        'stroke-dasharray="4 3"/>'
    )
    body.append(f'<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="{_GREY}"/>')
    body.append(
        _text(
            (left + right) / 2,
            base + 36,
            f"judge's score ({low}-{high}; passing: {passing:g} or more)",
            size=FONT,
            anchor="middle",
        )
    )
    return _svg(WIDTH, base + 44, body, "judge scores")


def histogram_svg(values: Sequence[float], label: str, marks: Mapping[str, float] | None = None) -> str:
    """A histogram of `values`, with a dashed line and a label at each of `marks` (p50, p90...); labels
    that would overlap go to rows of their own above the plot."""
    left, right, plot_h = 48, WIDTH - 30, 140  # room for the last tick's label
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    ticks, decimals = _nice_ticks(lo, hi, whole=all(float(v).is_integer() for v in values))
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    bins = min(30, max(5, len(set(values))))
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / width))] += 1

    def xs(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (right - left)

    boxes, texts = [], []
    for name, v in (marks or {}).items():
        text = f"{name} {v:,.{decimals}f}"
        w = text_width(text, TICK)
        x = xs(v)
        start = x + 3 if x + 3 + w <= WIDTH - 2 else x - 3 - w
        boxes.append((start, start + w))
        texts.append((x, start, text))
    rows = place_rows(boxes) if boxes else []
    band = 18 * (max(rows) + 1 if rows else 1)
    top = 8 + band
    base = top + plot_h
    most = max(counts) or 1
    body: list[str] = []
    bar = max(1.0, xs(lo + width) - left - 1)
    for i, n in enumerate(counts):
        if n:
            h = n / most * (plot_h - 4)
            x = xs(lo + i * width)
            body.append(
                f'<rect x="{x + 0.5:.1f}" y="{base - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{_BLUE}"><title>{n} runs</title></rect>'
            )
    for n in (0, most):
        y = base - n / most * (plot_h - 4)
        body.append(_text(left - 6, y + 4, str(n), anchor="end"))
    for (x, start, text), r in zip(texts, rows, strict=True):
        body.append(
            f'<line x1="{x:.1f}" y1="{8 + 18 * r + 4}" x2="{x:.1f}" y2="{base}" stroke="{_GREY}" '
            'stroke-dasharray="4 3"/>'
        )
        body.append(_text(start, 8 + 18 * r + 13, text, fill=_INK))
    for t in ticks:
        x = xs(t)
        body.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="{_GREY}"/>')
        body.append(_text(x, base + 18, f"{t:,.{decimals}f}", anchor="middle"))
    body.append(f'<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="{_GREY}"/>')
    body.append(_text((left + right) / 2, base + 38, f"{label} (bars: runs)", size=FONT, anchor="middle"))
    return _svg(WIDTH, base + 46, body, label)
