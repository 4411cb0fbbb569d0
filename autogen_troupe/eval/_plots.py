"""The report's plots, drawn with matplotlib as inline SVG (text kept as text, no date, stable ids), so
the HTML file needs nothing from the network. matplotlib is the `[report]` extra: without it the report
is written without plots and says how to get them.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ProfileError
from ._stats import Rate

__all__ = ["PLOTS_MISSING", "available", "histogram_svg", "pass_rates_svg", "scores_svg"]

PLOTS_MISSING = "plots need matplotlib: pip install 'autogen-troupe[report]'"
_BLUE, _GREEN, _RED, _GREY = "#3b6fb6", "#2e8b57", "#c0392b", "#555555"


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ProfileError(PLOTS_MISSING) from None
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig


def _svg(fig: Any, salt: str) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]  # the XML declaration and doctype do not belong inside HTML
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.DOTALL)


def _style(ax: Any, *, counts: bool = False) -> None:
    if counts:  # runs are whole
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)


def pass_rates_svg(checks: Mapping[str, Rate]) -> str:
    """Pass rate per expectation, with 95% intervals."""
    names = list(checks)
    fig = _figure(6.4, 0.42 * len(names) + 0.9)
    ax = fig.add_subplot()
    ys = range(len(names))
    rates = [checks[n].rate * 100 for n in names]
    lows = [max(0.0, (checks[n].rate - checks[n].low) * 100) for n in names]
    highs = [max(0.0, (checks[n].high - checks[n].rate) * 100) for n in names]
    colors = [_GREEN if r >= 80 else _BLUE if r >= 50 else _RED for r in rates]
    ax.barh(list(ys), rates, color=colors, xerr=[lows, highs], capsize=3, ecolor=_GREY)
    ax.set_yticks(list(ys), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("runs that hold it, % (bars: 95% interval)", fontsize=9)
    for y, r in zip(ys, rates, strict=True):
        ax.text(min(r + 1.5, 92), y, f"{r:.0f}%", va="center", fontsize=8)
    _style(ax)
    return _svg(fig, "pass")


def scores_svg(scores: Mapping[str, int], low: int, high: int, passing: float) -> str:
    """How many runs the judge gave each score."""
    fig = _figure(6.4, 2.8)
    ax = fig.add_subplot()
    xs = [float(s) for s in scores]
    counts = list(scores.values())
    ax.bar(
        xs,
        counts,
        width=0.6 if high - low <= 20 else (high - low) / 40,
        color=[_GREEN if x >= passing else _RED for x in xs],
    )
    ax.set_xlim(low - 0.7, high + 0.7)
    ax.axvline(passing - 0.5 if float(passing).is_integer() else passing, color=_GREY, linestyle="--", lw=1)
    ax.set_xlabel(f"judge's score ({low}-{high}; passing: {passing:g} or more)", fontsize=9)
    ax.set_ylabel("runs", fontsize=9)
    _style(ax, counts=True)
    return _svg(fig, "scores")


def histogram_svg(
    values: Sequence[float], label: str, salt: str, marks: Mapping[str, float] | None = None
) -> str:
    """A histogram of `values`, with vertical lines at `marks` (p50, p90...)."""
    fig = _figure(6.4, 2.8)
    ax = fig.add_subplot()
    bins = min(30, max(5, len(set(values))))
    ax.hist(list(values), bins=bins, color=_BLUE, edgecolor="white")
    for name, x in (marks or {}).items():
        ax.axvline(x, color=_GREY, linestyle="--", lw=1)
        ax.text(x, ax.get_ylim()[1] * 0.95, f" {name}", fontsize=8, va="top", color=_GREY)
    ax.set_xlabel(label, fontsize=9)
    ax.set_ylabel("runs", fontsize=9)
    _style(ax, counts=True)
    return _svg(fig, salt)
