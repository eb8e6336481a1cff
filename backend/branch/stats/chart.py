"""The flow statistics drawn: one PNG (matplotlib, Agg backend: no display needed) and a small
HTML page that embeds it next to the figures."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure


def flow_chart_png(stats: dict[str, Any]) -> bytes:
    # A Figure, not pyplot: no global state, safe in a threaded server.
    fig = Figure(figsize=(11, 7), dpi=90)
    fig.suptitle(f"Branch {stats['branch_id']} customer flow, {stats['day']}")
    axes = fig.subplots(2, 2)

    ax = axes[0][0]
    hours = list(range(24))
    ax.bar(hours, stats["arrivals_per_hour"], color="#3b7dd8")
    ax.set_title("Arrivals per hour")
    ax.set_xlabel("hour (local)")
    ax.set_xticks(range(0, 24, 3))

    ax = axes[0][1]
    services = list(stats["per_service"])
    p50 = [(stats["per_service"][s]["wait_s"]["p50"] or 0) / 60 for s in services]
    p90 = [(stats["per_service"][s]["wait_s"]["p90"] or 0) / 60 for s in services]
    xs = range(len(services))
    ax.bar([x - 0.2 for x in xs], p50, width=0.4, label="p50", color="#6aa84f")
    ax.bar([x + 0.2 for x in xs], p90, width=0.4, label="p90", color="#e69138")
    ax.set_xticks(list(xs), services)
    ax.set_title("Wait (minutes)")
    ax.legend()

    ax = axes[1][0]
    counters = stats["counters"]
    ax.bar(
        [c["counter_id"] for c in counters],
        [(c["utilisation"] or 0) * 100 for c in counters],
        color="#8e7cc3",
    )
    ax.set_ylim(0, 100)
    ax.set_title("Counter utilisation (%)")

    ax = axes[1][1]
    smart = stats["smart_counters"]
    values = [smart["transactions"], smart["teller_served"]]
    if sum(values):
        ax.pie(
            values,
            labels=["smart counter", "teller"],
            autopct="%1.0f%%",
            colors=["#45818e", "#cc4125"],
        )
    else:
        ax.text(0.5, 0.5, "no transactions", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title("Off-counter share")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def flow_page_html(stats: dict[str, Any]) -> str:
    png = base64.b64encode(flow_chart_png(stats)).decode("ascii")
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(code)}</td><td>{s['tickets']}</td><td>{s['wait_s']['p50']}</td>"
        f"<td>{s['wait_s']['p90']}</td><td>{s['service_s']['p50']}</td></tr>"
        for code, s in stats["per_service"].items()
    )
    ab = stats["abandonment"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(stats["branch_id"])} flow {esc(stats["day"])}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 10px;text-align:right}}</style>
</head><body>
<h1>Branch {esc(stats["branch_id"])}: customer flow on {esc(stats["day"])}</h1>
<p>{stats["arrivals"]} arrivals, {stats["served"]} served; wait p50 {stats["wait_s"]["p50"]} s,
p90 {stats["wait_s"]["p90"]} s; abandonment {ab["no_show"]} no-shows, {ab["left"]} left,
{ab["remote_never_arrived"]} bookings never came;
off-counter rate {stats["smart_counters"]["off_counter_rate"]}.</p>
<table><tr><th>service</th><th>tickets</th><th>wait p50 (s)</th><th>wait p90 (s)</th>
<th>service p50 (s)</th></tr>{rows}</table>
<img alt="flow chart" src="data:image/png;base64,{png}">
</body></html>
"""
