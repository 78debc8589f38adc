"""Small inline SVG charts: vertical bars (grouped or stacked) and horizontal bars. No JavaScript.

Each chart is one ``<svg>`` element with a ``<title>`` and ``<desc>`` (what a screen reader says)
and every bar labelled with its value, so the picture can be read without hovering. The markup is
well-formed XML (the report is tested with an XML parser).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    color: str


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5, 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * 10**exponent
        if top >= value:
            return float(top)
    return float(10 ** (exponent + 1))


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")


def _open(width: int, height: int, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" style="max-width:{width}px;{FONT}">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(desc)}</desc>",
    ]


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    out = []
    for s in series:
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{s.color}"/>')
        out.append(f'<text x="{x + 14:.1f}" y="{y:.1f}" font-size="12" fill="#333">{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    return out


def bar_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    desc: str,
    stacked: bool = False,
    width: int = 640,
    height: int = 280,
    y_label: str = "",
    value_format: Callable[[float], str] = _fmt,
    integer: bool = True,
) -> str:
    """Bars per category: side by side (grouped) or on top of each other (``stacked``)."""
    left, right, top, bottom = 48, 12, 34, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    if stacked:
        peak = max((sum(s.values[i] for s in series) for i in range(len(categories))), default=0)
    else:
        peak = max((v for s in series for v in s.values), default=0)
    top_value = _nice_max(peak)
    if integer:  # counts: four grid steps of a whole number each
        top_value = 4.0 * max(1, math.ceil(top_value / 4))
    out = _open(width, height, title, desc)
    out += _legend(series, left, 16)
    for k in range(5):  # grid and axis labels
        value = top_value * k / 4
        y = top + plot_h - plot_h * k / 4
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        out.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#666">'
            f"{escape(value_format(value))}</text>"
        )
    if y_label:
        out.append(
            f'<text x="12" y="{top + plot_h / 2:.1f}" font-size="11" fill="#666" text-anchor="middle" '
            f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{escape(y_label)}</text>'
        )
    n = max(len(categories), 1)
    slot = plot_w / n
    group_w = slot * 0.7
    bar_w = group_w if stacked else group_w / max(len(series), 1)
    for i, category in enumerate(categories):
        x0 = left + slot * i + (slot - group_w) / 2
        base = 0.0
        for j, s in enumerate(series):
            value = s.values[i]
            h = plot_h * value / top_value
            x = x0 if stacked else x0 + bar_w * j
            y = top + plot_h - plot_h * (base / top_value) - h
            label = f"{category}: {s.name} {value_format(value)}"
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}" '
                f'fill="{s.color}"><title>{escape(label)}</title></rect>'
            )
            if value and (not stacked or h >= 14):
                ty = y + 13 if stacked else y - 3
                colour = "#fff" if stacked else "#333"
                out.append(
                    f'<text x="{x + (bar_w - 2) / 2:.1f}" y="{ty:.1f}" font-size="11" text-anchor="middle" '
                    f'fill="{colour}">{escape(value_format(value))}</text>'
                )
            if stacked:
                base += value
        out.append(
            f'<text x="{left + slot * i + slot / 2:.1f}" y="{top + plot_h + 16:.1f}" font-size="11" '
            f'text-anchor="middle" fill="#333">{escape(category)}</text>'
        )
    out.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#999"/>'
    )
    out.append("</svg>")
    return "".join(out)


def hbar_chart(
    rows: Sequence[tuple[str, float | None]],
    *,
    title: str,
    desc: str,
    maximum: float | None = None,
    color: str = "#457b9d",
    width: int = 640,
    value_format: Callable[[float], str] = _fmt,
    marker: tuple[float, str] | None = None,
    missing: str = "not measurable",
) -> str:
    """One horizontal bar per row (a funnel, rates); ``None`` values are written, not drawn.
    ``marker``: a dashed vertical line at a value (a target), with its label."""
    label_w, right, top, row_h = 190, 70, 10, 30
    height = top + row_h * len(rows) + (24 if marker else 8)
    plot_w = width - label_w - right
    peak = max([v for _, v in rows if v is not None] + ([marker[0]] if marker else []), default=0)
    top_value = maximum if maximum is not None else _nice_max(peak)
    out = _open(width, height, title, desc)
    for i, (label, value) in enumerate(rows):
        y = top + row_h * i
        out.append(
            f'<text x="{label_w - 8}" y="{y + 19}" font-size="12" text-anchor="end" fill="#333">'
            f"{escape(label)}</text>"
        )
        out.append(f'<rect x="{label_w}" y="{y + 5}" width="{plot_w}" height="{row_h - 10}" fill="#f1f3f5"/>')
        if value is None:
            out.append(
                f'<text x="{label_w + 6}" y="{y + 19}" font-size="11" fill="#777">{escape(missing)}</text>'
            )
            continue
        w = plot_w * min(value / top_value, 1.0) if top_value else 0
        out.append(
            f'<rect x="{label_w}" y="{y + 5}" width="{w:.1f}" height="{row_h - 10}" fill="{color}">'
            f"<title>{escape(label)}: {escape(value_format(value))}</title></rect>"
        )
        out.append(
            f'<text x="{label_w + w + 6:.1f}" y="{y + 19}" font-size="12" fill="#333">'
            f"{escape(value_format(value))}</text>"
        )
    if marker is not None and top_value:
        mx = label_w + plot_w * min(marker[0] / top_value, 1.0)
        bottom = top + row_h * len(rows)
        out.append(
            f'<line x1="{mx:.1f}" y1="{top}" x2="{mx:.1f}" y2="{bottom}" stroke="#c0392b" '
            f'stroke-dasharray="4 3" stroke-width="1.5"/>'
        )
        out.append(
            f'<text x="{mx:.1f}" y="{bottom + 16}" font-size="11" text-anchor="middle" fill="#c0392b">'
            f"{escape(marker[1])}</text>"
        )
    out.append("</svg>")
    return "".join(out)
