"""Small SVG line charts of each check's count over the last runs, for the morning digest.

Why matplotlib rather than hand-written SVG: axes, ticks and scaling are the hard part of a chart and a
well-kept library gets them right. Why these settings: the digest must be byte-identical for the same
run (the reports are), so ids are salted with a constant, text stays text (`svg.fonttype = none`: no
glyph paths, smaller and readable by screen readers), and the metadata carries no date or version.
Only `matplotlib.figure.Figure` is used (never pyplot), so no global figure state and no GUI backend.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, MaxNLocator

LINE_COLOUR = "#1f5fa8"
LATEST_COLOUR = "#c2410c"
GRID_COLOUR = "#d9dee5"
# Metadata keys matplotlib fills by default; None removes them (Date would change every run).
NO_METADATA: dict[str, Any] = {"Date": None, "Creator": None, "Format": None, "Type": None}
_PROLOGUE = re.compile(r"\A.*?(?=<svg\b)", re.S)  # the XML declaration and DOCTYPE before <svg>
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_ID = re.compile(r'\bid="([^"]+)"')
_REFERENCE = re.compile(r'(\bid="|#)([\w.-]+)(?=[")])')  # id="x", href="#x", url(#x)
_SIZE = re.compile(r'\s(width|height)="[\d.]+pt"')


def trend_svg(name: str, dates: Sequence[str], counts: Sequence[int | None], title: str) -> str:
    """An inline-ready <svg> of one check's count per run; `None` (check skipped that run) leaves a gap."""
    with matplotlib.rc_context(
        {
            "svg.hashsalt": f"account-audit:{name}",  # constant: stable bytes; per chart: distinct ids
            "svg.fonttype": "none",
            "font.family": "sans-serif",
            "font.size": 8,
            "axes.edgecolor": "#8a94a3",
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        figure = Figure(figsize=(3.6, 1.5), dpi=72)
        axes = figure.add_subplot()
        x = list(range(len(dates)))
        y = [float("nan") if c is None else float(c) for c in counts]
        axes.plot(x, y, color=LINE_COLOUR, linewidth=1.6, marker="o", markersize=2.5)
        if y and counts[-1] is not None:
            axes.plot([x[-1]], [y[-1]], "o", color=LATEST_COLOUR, markersize=5, zorder=3)
        top = max((c for c in counts if c is not None), default=0)
        axes.set_ylim(0, max(top * 1.15, 1))
        axes.set_xlim(-0.5, max(len(dates) - 0.5, 0.5))
        axes.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
        ticks = _tick_positions(len(dates))
        axes.xaxis.set_major_locator(FixedLocator(ticks))
        axes.set_xticklabels([dates[i][5:] for i in ticks])  # MM-DD: the year is in the page header
        axes.grid(axis="y", color=GRID_COLOUR, linewidth=0.6)
        axes.set_title(title, loc="left", fontsize=8.5, color="#1f2933")
        figure.subplots_adjust(left=0.11, right=0.97, bottom=0.18, top=0.84)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=NO_METADATA)
    label = f"{title}: count per run, {dates[0]} to {dates[-1]}" if dates else title
    return _inline(_prefix_ids(buffer.getvalue(), f"{name}-"), label)


def _tick_positions(n: int, most: int = 5) -> list[int]:
    """At most `most` evenly spread run indexes, always including the newest run."""
    if n <= most:
        return list(range(n))
    step = -(-(n - 1) // (most - 1))
    return sorted({*range(n - 1, -1, -step)})


def _prefix_ids(svg: str, prefix: str) -> str:
    """Give every id (and each reference to it) a per-chart prefix: several charts share one HTML page,
    and matplotlib names groups `figure_1`, `axes_1`, ... in every figure."""
    ids = set(_ID.findall(svg))
    return _REFERENCE.sub(
        lambda m: m.group(1) + prefix + m.group(2) if m.group(2) in ids else m.group(0), svg
    )


def _inline(svg: str, label: str) -> str:
    """Drop the XML prologue and metadata; make the chart scale with the page and name it for readers."""
    svg = _METADATA.sub("", _PROLOGUE.sub("", svg, count=1), count=1)
    svg = _SIZE.sub("", svg, count=2)  # the viewBox keeps the aspect ratio; CSS sets the width
    label = label.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" class="trend" ', 1)
