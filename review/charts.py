"""Charts drawn on the server as inline SVG: no script, no chart library, text values on the bars.

Every chart has a title and description for screen readers, and the pages show the same numbers in a table, so
nothing is conveyed by colour alone. Series are told apart by position and label as well as by fill.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal

from markupsafe import Markup

SERIES_CLASSES = ("series-a", "series-b", "series-c", "series-d")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: suppressed or unknown, drawn as a labelled gap
    text: str | None = None  # what to print instead of the number (e.g. "62%")


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _shown(bar: Bar) -> str:
    if bar.value is None:
        return "suppressed"
    return bar.text or _num(bar.value)


def _ident(*parts: object) -> str:
    return "c" + format(zlib.crc32(repr(parts).encode()), "x")


def horizontal_bars(title: str, bars: Sequence[Bar], *, unit: Literal["count", "rate"] = "count") -> Markup:
    """One horizontal bar per label with its value written after it; hidden values say "suppressed"."""
    row_h, label_w, bar_w, pad = 26, 220, 320, 8
    height = pad * 2 + row_h * max(len(bars), 1) + 20
    width = label_w + bar_w + 110
    top = max([b.value for b in bars if b.value is not None] + [1.0 if unit == "rate" else 0.0])
    top = top or 1.0
    ident = _ident(title, bars)
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{ident}-t {ident}-d" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape("; ".join(f"{b.label}: {_shown(b)}" for b in bars))}</desc>',
    ]
    for index, bar in enumerate(bars):
        y = pad + index * row_h
        parts.append(
            f'<text class="chart-label" x="{label_w - 6}" y="{y + row_h * 0.65:.0f}" text-anchor="end">'
            f"{escape(bar.label)}</text>"
        )
        if bar.value is None:
            parts.append(f'<text class="chart-value" x="{label_w + 4}" y="{y + row_h * 0.65:.0f}">suppressed</text>')
            continue
        length = bar_w * (bar.value / top)
        parts.append(
            f'<rect class="bar series-a" x="{label_w}" y="{y + 4}" width="{length:.1f}" height="{row_h - 8}"/>'
        )
        parts.append(
            f'<text class="chart-value" x="{label_w + length + 6:.1f}" y="{y + row_h * 0.65:.0f}">'
            f"{escape(_shown(bar))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


def stacked_columns(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], *, every: int = 7
) -> Markup:
    """Per-day stacked columns (e.g. verified / referred / missed) with a legend; totals written above columns."""
    n = max(len(labels), 1)
    col_w, chart_h, left, top_pad, bottom = 22, 180, 36, 24, 60
    width = max(left + n * col_w + 20, left + len(series) * 190)
    height = top_pad + chart_h + bottom
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    peak = max([*totals, 1])
    ident = _ident(title, labels)
    summary = "; ".join(
        f"{label}: " + ", ".join(f"{name} {values[i]}" for name, values in series) for i, label in enumerate(labels)
    )
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{ident}-t {ident}-d" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(summary)}</desc>',
        f'<line class="axis" x1="{left}" y1="{top_pad + chart_h}" x2="{width - 10}" y2="{top_pad + chart_h}"/>',
        f'<text class="chart-value" x="{left - 4}" y="{top_pad + 4}" text-anchor="end">{peak}</text>',
        f'<text class="chart-value" x="{left - 4}" y="{top_pad + chart_h}" text-anchor="end">0</text>',
    ]
    for i, label in enumerate(labels):
        x = left + i * col_w + 2
        y = float(top_pad + chart_h)
        for s, (name, values) in enumerate(series):
            v = values[i]
            if not v:
                continue
            h = chart_h * v / peak
            y -= h
            parts.append(
                f'<rect class="bar {SERIES_CLASSES[s % 4]}" x="{x}" y="{y:.1f}" width="{col_w - 4}" height="{h:.1f}">'
                f"<title>{escape(label)}: {escape(name)} {v}</title></rect>"
            )
        if totals[i]:
            parts.append(
                f'<text class="chart-small" x="{x + (col_w - 4) / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">'
                f"{totals[i]}</text>"
            )
        if (i % every == 0 and len(labels) - 1 - i >= 3) or i == len(labels) - 1:
            parts.append(f'<text class="chart-small" x="{x}" y="{top_pad + chart_h + 14}">{escape(label[5:])}</text>')
    legend_y = top_pad + chart_h + 34
    for s, (name, _values) in enumerate(series):
        lx = left + s * 190
        parts.append(
            f'<rect class="bar {SERIES_CLASSES[s % 4]}" x="{lx}" y="{legend_y}" width="12" height="12"/>'
            f'<text class="chart-label" x="{lx + 16}" y="{legend_y + 11}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
