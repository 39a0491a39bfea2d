"""The page's charts as inline SVG: pure, no JavaScript, no external files.

A chart is drawn at its natural size in CSS pixels and only ever shrinks to fit (the page's
``.chart`` rule: ``max-width: 100%``), never grows: its text is FONT_SIZE px on a wide
screen and, shrunk into a 390 px phone, still at least 11 px. The histograms lie on their
side, so their labels are written in full on one line each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from ..core.format import BASIS_COLOURS, basis_verb, month_name
from ..core.snapshot import MonthCount

#: (basis, legend label, fill colour) in drawing order within each month.
SERIES: tuple[tuple[str, str, str], ...] = tuple(
    (basis, basis_verb(basis).capitalize(), BASIS_COLOURS[basis]) for basis in ("login", "server")
)


#: The charts' text size in CSS pixels at their natural width.
FONT_SIZE = 16


@dataclass(frozen=True)
class Layout:
    width: int = 460
    height: int = 280
    left: int = 44
    right: int = 8
    top: int = 36
    bottom: int = 44

    @property
    def plot_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> float:
        return self.height - self.top - self.bottom


def axis_maximum(value: int) -> int:
    """A round axis top at or above *value*: 1, 2, 5 times a power of ten (at least 5)."""
    if value <= 5:
        return 5
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def short_month(label: str) -> str:
    """``2026-11`` -> ``Nov 2026``."""
    return month_name(label, short=True)


def _attrs(**values: object) -> str:
    return " ".join(
        f'{name.rstrip("_").replace("_", "-")}="{escape(str(value), quote=True)}"'
        for name, value in values.items()
    )


def _svg_open(
    chart_id: str, css_class: str, layout: Layout, title: str, description: str
) -> list[str]:
    """The opening ``<svg>`` of a chart, with its title and description for assistive
    technology (both escaped)."""
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    return [
        "<svg "
        + _attrs(
            xmlns="http://www.w3.org/2000/svg",
            id=chart_id,
            class_=css_class,
            role="img",
            aria_labelledby=f"{title_id} {desc_id}",
            viewBox=f"0 0 {layout.width} {layout.height}",
            width=layout.width,
            height=layout.height,
            preserveAspectRatio="xMidYMid meet",
            font_family="system-ui, sans-serif",
            font_size=FONT_SIZE,
        )
        + ">",
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(description or "No data yet.")}</desc>',
    ]


def _grid(layout: Layout, top_value: int) -> list[str]:
    """Horizontal grid lines and axis labels at fifths of the axis."""
    scale = layout.plot_height / top_value
    baseline = layout.top + layout.plot_height
    parts = []
    for step in range(6):
        value = top_value * step / 5
        y = baseline - value * scale
        label = f"{value:g}" if value != int(value) else f"{int(value):,}"
        parts.append(
            "<line "
            + _attrs(
                x1=layout.left,
                x2=layout.width - layout.right,
                y1=f"{y:.2f}",
                y2=f"{y:.2f}",
                stroke="currentColor",
                stroke_opacity="0.15" if step else "0.6",
            )
            + "/>"
        )
        parts.append(
            "<text "
            + _attrs(
                x=layout.left - 6,
                y=f"{y + FONT_SIZE / 3:.2f}",
                text_anchor="end",
                fill="currentColor",
            )
            + f">{escape(label)}</text>"
        )
    return parts


def _axis_label(layout: Layout, x: float, row: int, text: str, **extra: object) -> str:
    """A label under the plot, centred on *x*, on line *row* (1 or 2)."""
    baseline = layout.top + layout.plot_height
    return (
        "<text "
        + _attrs(
            x=f"{x:.2f}",
            y=baseline + (FONT_SIZE + 4) * row,
            text_anchor="middle",
            fill="currentColor",
            **extra,
        )
        + f">{escape(text)}</text>"
    )


def mau_chart_svg(
    months: Sequence[MonthCount],
    *,
    chart_id: str = "mau-chart",
    layout: Layout | None = None,
) -> str:
    """A grouped bar chart of *months* (oldest first) on both bases, as an SVG element.

    Bar heights are proportional to the counts (``count / axis_top * plot_height``). The chart
    is an image with a title and a description for assistive technology; every bar has its
    own ``<title>`` so hovering or reading it gives the exact figures.
    """
    layout = layout or Layout()
    top_value = axis_maximum(max([0, *(max(m.login, m.server) for m in months)]))
    scale = layout.plot_height / top_value
    baseline = layout.top + layout.plot_height
    slot = layout.plot_width / max(1, len(months))
    bar_width = slot * 0.36
    if months:
        span = f"{short_month(months[0].month)} to {short_month(months[-1].month)}"
    else:
        span = "no months"
    description = "; ".join(
        f"{short_month(m.month)}: {m.login} logged in, {m.server} started a server" for m in months
    )
    parts = _svg_open(
        chart_id, "chart mau-chart", layout, f"Monthly active users, {span}", description
    ) + _grid(layout, top_value)

    for index, month in enumerate(months):
        x0 = layout.left + index * slot + (slot - 2 * bar_width) / 2
        for offset, (basis, label, colour) in enumerate(SERIES):
            value = getattr(month, basis)
            height = value * scale
            parts.append(
                "<rect "
                + _attrs(
                    class_=f"bar bar-{basis}",
                    data_month=month.month,
                    data_basis=basis,
                    data_value=value,
                    x=f"{x0 + offset * bar_width:.2f}",
                    y=f"{baseline - height:.2f}",
                    width=f"{bar_width:.2f}",
                    height=f"{height:.2f}",
                    fill=colour,
                )
                + f"><title>{escape(f'{short_month(month.month)}: {value:,} {label.lower()}')}"
                "</title></rect>"
            )
        name, year = short_month(month.month).split()
        centre = layout.left + index * slot + slot / 2
        parts.append(_axis_label(layout, centre, 1, name))
        if index == 0 or month.month.endswith("-01"):
            parts.append(_axis_label(layout, centre, 2, year, fill_opacity="0.7"))

    # Legend, top left.
    x = layout.left
    for _basis, label, colour in SERIES:
        parts.append("<rect " + _attrs(x=x, y=8, width=14, height=14, fill=colour) + "/>")
        parts.append(
            "<text " + _attrs(x=x + 20, y=20, fill="currentColor") + f">{escape(label)}</text>"
        )
        x += 20 + int(FONT_SIZE * 0.55 * len(label)) + 20
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class HistogramBar:
    """One bucket of a histogram: its label, its count and where its users are listed."""

    key: str
    label: str
    count: int
    href: str


def histogram_svg(
    bars: Sequence[HistogramBar],
    *,
    chart_id: str,
    title: str,
    unit: str = "users",
    label_width: int = 170,
) -> str:
    """A bar chart of *bars* (in order, top to bottom) as an SVG element; each bar links to
    its users.

    Bar lengths are proportional to the counts (``count / axis_top * plot_width``), each
    bar's label on its left and its count at its end; every bar is an ``<a>`` with a
    ``<title>`` giving the exact figure, so it can be followed without any script. Labels
    and links are escaped.
    """
    row = FONT_SIZE * 2 + 4
    layout = Layout(height=12 + row * max(1, len(bars)), left=label_width, right=48, top=6)
    top_value = axis_maximum(max([0, *(bar.count for bar in bars)]))
    scale = layout.plot_width / top_value
    bar_height = row * 0.6
    description = "; ".join(f"{bar.label}: {bar.count:,} {unit}" for bar in bars)
    parts = _svg_open(chart_id, "chart usage-histogram", layout, title, description)
    parts.append(
        "<line "
        + _attrs(
            x1=layout.left,
            x2=layout.left,
            y1=layout.top,
            y2=layout.height - 6,
            stroke="currentColor",
            stroke_opacity="0.6",
        )
        + "/>"
    )
    for index, bar in enumerate(bars):
        y = layout.top + index * row + (row - bar_height) / 2
        length = bar.count * scale
        middle = y + bar_height / 2 + FONT_SIZE / 3
        parts.append(
            "<a "
            + _attrs(href=bar.href, class_="bucket-link", data_bucket=bar.key)
            + "><text "
            + _attrs(x=layout.left - 8, y=f"{middle:.2f}", text_anchor="end", fill="currentColor")
            + f">{escape(bar.label)}</text><rect "
            + _attrs(
                class_="bar bucket",
                data_bucket=bar.key,
                data_value=bar.count,
                x=layout.left,
                y=f"{y:.2f}",
                # an empty bucket keeps a sliver to click on
                width=f"{max(length, 1.5):.2f}",
                height=f"{bar_height:.2f}",
                fill="#6f42c1",
            )
            + f"><title>{escape(f'{bar.label}: {bar.count:,} {unit}')}</title></rect>"
            + "<text "
            + _attrs(x=f"{layout.left + length + 6:.2f}", y=f"{middle:.2f}", fill="currentColor")
            + f">{bar.count:,}</text></a>"
        )
    parts.append("</svg>")
    return "".join(parts)
