"""The impact report as one self-contained HTML file: inline CSS and inline SVG charts, no script,
no external asset (it opens from an email attachment or a file share, offline).

Sections: summary, scorecard (every metric with its definition, value, target, met / not met and the
baseline), charts (sessions over time, stage funnel, goal attainment distribution, satisfaction by
side, would-recommend, retention), anonymous feedback, and how the figures are made.
"""

from __future__ import annotations

from html import escape

from tandem.report import svg
from tandem.report.export import STATUS_TEXT, display, display_delta, display_target, verdict
from tandem.report.metrics import MIN_TERM_RESPONSES, ImpactReport, MetricResult, ProgramSummary

LABELS = {
    "session_completion": "Session completion",
    "time_to_agreed_goals_days": "Time to agreed goals",
    "goal_attainment": "Goal attainment",
    "midpoint_health": "Midpoint health",
    "satisfaction_mentor": "Satisfaction of mentors",
    "satisfaction_mentee": "Satisfaction of mentees",
    "would_recommend_nps": "Would recommend (NPS)",
    "at_risk_rate": "At-risk rate",
    "early_end_rate": "Early-end rate",
    "retention_3m": "Retention at 3 months",
    "retention_6m": "Retention at 6 months",
    "retention_12m": "Retention at 12 months",
}
HELD, MISSED = "#2a9d8f", "#e76f51"
MENTOR, MENTEE = "#264653", "#e9b949"
PASSIVE = "#b0b7bf"

CSS = """
body{margin:0;background:#f6f7f9;color:#1f2933;
  font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
main{max-width:980px;margin:0 auto;padding:28px 20px 60px}
h1{font-size:28px;margin:0 0 4px}
h2{font-size:20px;margin:36px 0 12px;border-bottom:2px solid #dde2e7;padding-bottom:6px}
h3{font-size:16px;margin:0 0 8px}
.sub{color:#52606d;margin:0}
.note{background:#fff8e1;border-left:4px solid #f0b429;padding:8px 12px;margin:12px 0}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-top:20px}
.card{background:#fff;border-radius:8px;padding:12px 16px;min-width:150px;flex:1;
  box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card .big{font-size:26px;font-weight:600}
.card .small{color:#52606d;font-size:13px}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid #e4e7eb;vertical-align:top}
thead th{background:#eef1f4;font-size:13px;color:#3e4c59}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.def{display:block;color:#616e7c;font-size:12px;font-weight:normal}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600;
  white-space:nowrap}
.met{background:#d8f3e6;color:#116149}
.missed{background:#fde2dd;color:#9b2c1a}
.unknown{background:#eceff1;color:#52606d}
.better{color:#116149}
.worse{color:#9b2c1a}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:16px}
figure{margin:0;background:#fff;border-radius:8px;padding:14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
figcaption{color:#52606d;font-size:13px;margin-top:6px}
.withheld{color:#52606d;font-style:italic;padding:28px 8px}
dl{background:#fff;padding:12px 16px;border-radius:8px}
dt{font-weight:600;margin-top:8px}
dd{margin:0 0 4px 0;color:#3e4c59}
ul.terms{columns:3;padding-left:18px}
footer{margin-top:40px;color:#7b8794;font-size:12px}
"""


def _e(text: object) -> str:
    return escape(str(text))


def _date(value: object) -> str:
    return "–" if value is None else _e(str(value)[:10])


def _badge(metric: MetricResult) -> str:
    v = verdict(metric)
    css = {"met": "met", "not met": "missed"}.get(v, "unknown")
    if v == "no target" and metric.status != "measured":
        v = STATUS_TEXT[metric.status]
    return f'<span class="badge {css}">{_e(v)}</span>'


def _summary(report: ImpactReport) -> str:
    p = report.program
    met = sum(1 for m in report.metrics if m.targets and m.met is True)
    missed = sum(1 for m in report.metrics if m.targets and m.met is False)
    with_targets = sum(1 for m in report.metrics if m.targets)
    due = p.sessions_held + p.sessions_missed
    cards = [
        (f"{p.participants}", "participants", f"{p.mentors} mentors · {p.mentees} mentees"),
        (f"{p.pairings}", "pairings", f"{p.pairings_started} started · {p.pairings_closed} closed"),
        (f"{p.sessions_held}", "sessions held", f"of {due} that came due"),
        (
            f"{met} of {with_targets}",
            "targets met",
            f"{missed} not met · {with_targets - met - missed} not measurable",
        ),
    ]
    out = ['<section id="summary" class="cards">']
    for big, label, small in cards:
        out.append(
            f'<div class="card"><div class="big">{_e(big)}</div><div>{_e(label)}</div>'
            f'<div class="small">{_e(small)}</div></div>'
        )
    out.append("</section>")
    return "".join(out)


def _scorecard(report: ImpactReport) -> str:
    base = report.baseline
    head = ["Metric", "Value", "Target", "Verdict"]
    if base:
        head += [f"Baseline ({base.program_id})", "Change"]
    head.append("Based on")
    out = [
        '<section id="scorecard"><h2>Measured against the program\'s targets</h2>',
        "<table><thead><tr>",
        *(f"<th>{_e(h)}</th>" for h in head),
        "</tr></thead><tbody>",
    ]
    for m in report.metrics:
        value = display(m.unit, m.value) if m.status == "measured" else STATUS_TEXT[m.status]
        targets = "<br/>".join(_e(display_target(m.unit, t)) for t in m.targets) or "–"
        out.append(
            f'<tr id="metric-{_e(m.name)}" data-metric="{_e(m.name)}">'
            f'<th>{_e(LABELS.get(m.name, m.name))}<span class="def">{_e(m.definition)}</span></th>'
            f'<td class="num">{_e(value)}</td><td class="num">{targets}</td><td>{_badge(m)}</td>'
        )
        if base:
            change = display_delta(m.unit, m.delta)
            css = {True: "better", False: "worse"}.get(m.better_than_baseline, "")  # type: ignore[arg-type]
            out.append(
                f'<td class="num">{_e(display(m.unit, m.baseline))}</td>'
                f'<td class="num {css}">{_e(change)}</td>'
            )
        out.append(f"<td>{_e(m.detail)}</td></tr>")
    out.append("</tbody></table></section>")
    return "".join(out)


def _figure(figure_id: str, title: str, chart: str, caption: str) -> str:
    return (
        f'<figure id="{figure_id}"><h3>{_e(title)}</h3>{chart}<figcaption>{_e(caption)}</figcaption></figure>'
    )


def _withheld(responses: int, minimum: int) -> str:
    return (
        f'<p class="withheld">Withheld: {responses} responses so far; shown from {minimum} responses on, '
        "so that no answer can be traced to a person.</p>"
    )


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def _charts(report: ImpactReport) -> str:
    c = report.charts
    figures = []

    months = [m for m, _, _ in c.sessions_by_month]
    if months:
        chart = svg.bar_chart(
            months,
            [
                svg.Series("held", [h for _, h, _ in c.sessions_by_month], HELD),
                svg.Series("missed", [m for _, _, m in c.sessions_by_month], MISSED),
            ],
            title="Sessions over time",
            desc="Sessions held and missed per month (by the day they were recorded)",
            stacked=True,
            y_label="sessions",
        )
    else:
        chart = '<p class="withheld">No session has come due yet.</p>'
    figures.append(
        _figure("chart-sessions", "Sessions over time", chart, "Held and missed sessions per month.")
    )

    first = c.funnel[0][2] if c.funnel else 0
    chart = svg.hbar_chart(
        [(label, float(n)) for _, label, n in c.funnel],
        title="Stage funnel",
        desc="Pairings that reached each stage of the lifecycle, and every stage before it",
        maximum=float(max(first, 1)),
    )
    outcomes = ", ".join(f"{n} {o.replace('_', ' ')}" for o, n in c.outcomes) or "none yet"
    figures.append(
        _figure(
            "chart-funnel",
            "Stage funnel",
            chart,
            f"Pairings that got through each stage and every stage before it. Outcomes: {outcomes}.",
        )
    )

    if c.attainment_bins is not None:
        chart = svg.bar_chart(
            [label for label, _ in c.attainment_bins],
            [svg.Series("goal ratings", [n for _, n in c.attainment_bins], "#457b9d")],
            title="Goal attainment distribution",
            desc="How many agreed goals were rated in each attainment band at closeout, both sides",
            y_label="goal ratings",
        )
    else:
        chart = _withheld(c.attainment_responses, report.min_responses)
    figures.append(
        _figure(
            "chart-attainment",
            "Goal attainment distribution",
            chart,
            "Each agreed goal as rated by each side at closeout, in bands of attainment.",
        )
    )

    sides = [(side, counts) for side, counts in c.satisfaction.items() if counts is not None]
    if sides:
        colors = {"mentor": MENTOR, "mentee": MENTEE}
        chart = svg.bar_chart(
            ["1", "2", "3", "4", "5"],
            [svg.Series(f"{side}s", list(counts), colors[side]) for side, counts in sides],  # type: ignore[arg-type]
            title="Satisfaction by side",
            desc="Closeout satisfaction answers (1 to 5) of mentors and mentees",
            y_label="answers",
        )
        hidden = [side for side, counts in c.satisfaction.items() if counts is None]
        caption = "Closeout satisfaction, 1 (low) to 5 (high)." + (
            f" Withheld for {', '.join(hidden)}s (fewer than {report.min_responses} responses)."
            if hidden
            else ""
        )
    else:
        chart = _withheld(max(c.satisfaction_responses.values(), default=0), report.min_responses)
        caption = "Closeout satisfaction, 1 (low) to 5 (high)."
    figures.append(_figure("chart-satisfaction", "Satisfaction by side", chart, caption))

    if c.nps_split is not None:
        detractors, passives, promoters = c.nps_split
        total = detractors + passives + promoters
        chart = svg.hbar_chart(
            [("promoters (9–10)", promoters / total), ("passives (7–8)", passives / total),
             ("detractors (0–6)", detractors / total)],
            title="Would recommend",
            desc="Share of closeout answers that are promoters, passives and detractors",
            maximum=1.0,
            value_format=_percent,
        )  # fmt: skip
        nps = report.metric("would_recommend_nps")
        caption = f"NPS {display('nps', nps.value)}: % promoters minus % detractors, {total} answers."
    else:
        chart = _withheld(c.attainment_responses, report.min_responses)
        caption = "Would recommend the program, 0 to 10."
    figures.append(_figure("chart-recommend", "Would recommend", chart, caption))

    rows: list[tuple[str, float | None]] = []
    for months_, value, base in c.retention:
        rows.append((f"{months_} months", value))
        if report.baseline is not None:
            rows.append((f"{months_} months (baseline)", base))
    target = next((t for t in report.metric("retention_12m").targets), None)
    chart = svg.hbar_chart(
        rows,
        title="Retention",
        desc="Share of participants still employed 3, 6 and 12 months after the program started",
        maximum=1.0,
        value_format=_percent,
        color="#2a9d8f",
        marker=(target.bound, f"12-month target {_percent(target.bound)}") if target else None,
    )
    hr = report.program.hr_as_of
    figures.append(
        _figure(
            "chart-retention",
            "Retention",
            chart,
            f"From HR's leavers extract as of {hr}." if hr else "No HR leavers extract imported yet.",
        )
    )
    return '<section id="charts"><h2>Charts</h2><div class="grid">' + "".join(figures) + "</div></section>"


def _feedback(report: ImpactReport) -> str:
    f = report.feedback
    n = report.min_responses
    items = []
    if f.psychological_safety is not None:
        items.append(
            f"<li>Psychological safety at the midpoint: <strong>{f.psychological_safety:.2f} / 5</strong> "
            f"({f.psychological_safety_responses} responses).</li>"
        )
    else:
        items.append(
            "<li>Psychological safety at the midpoint: withheld "
            f"({f.psychological_safety_responses} responses; shown from {n}).</li>"
        )
    if f.fit_check_wants_new_partner is not None:
        items.append(
            f"<li>Confidential fit check: <strong>{_percent(f.fit_check_wants_new_partner)}</strong> of "
            f"{f.fit_check_answers} answers asked for a new partner.</li>"
        )
    else:
        items.append(
            f"<li>Confidential fit check: withheld ({f.fit_check_answers} answers; shown from {n}).</li>"
        )
    out = ['<section id="feedback"><h2>Anonymous feedback</h2><ul>', *items, "</ul>"]
    out.append("<h3>What participants took away</h3>")
    if not f.takeaways_shown:
        out.append(_withheld(f.takeaway_responses, n))
    elif not f.takeaway_terms:
        out.append(
            f"<p>{f.takeaway_responses} written takeaways; "
            f"no term is shared by {MIN_TERM_RESPONSES} or more.</p>"
        )
    else:
        out.append(
            f"<p>Terms used in at least {MIN_TERM_RESPONSES} of the {f.takeaway_responses} written takeaways "
            "(with the number of takeaways using them). The texts themselves are not shown.</p>"
            '<ul class="terms">'
        )
        out.extend(f"<li>{_e(term)} <small>({count})</small></li>" for term, count in f.takeaway_terms)
        out.append("</ul>")
    out.append("</section>")
    return "".join(out)


def _deliveries(report: ImpactReport) -> str:
    """Notification deliveries: the operator sees every permanent failure (they are not retried)."""
    d = report.deliveries
    if d is None or d.delivered + d.pending + d.failed == 0:
        return ""
    out = [
        '<section id="deliveries"><h2>Notification deliveries</h2>',
        f"<p><strong>{d.delivered}</strong> delivered, <strong>{d.pending}</strong> pending "
        f"({d.retrying} retrying after a transient failure), "
        f"<strong>{d.failed}</strong> failed permanently.</p>",
    ]
    if d.failures:
        out.append(
            "<table><thead><tr><th>pairing</th><th>to</th><th>notice</th><th>channel</th><th>reason</th>"
            "<th>failed</th></tr></thead><tbody>"
        )
        out.extend(
            f"<tr><td>{_e(f.pairing_id)}</td><td>{_e(f.recipient)}</td><td>{_e(f.template)}</td>"
            f"<td>{_e(f.channel)}</td><td>{_e(f.reason)}</td><td>{_e(_date(f.failed_at))}</td></tr>"
            for f in d.failures
        )
        out.append("</tbody></table>")
    out.append("</section>")
    return "".join(out)


def _method(report: ImpactReport) -> str:
    out = ['<section id="method"><h2>How these figures are made</h2><dl>']
    for m in report.metrics:
        out.append(
            f"<dt>{_e(LABELS.get(m.name, m.name))} <code>{_e(m.name)}</code></dt><dd>{_e(m.definition)}.</dd>"
        )
    out.append("</dl>")
    out.append(
        "<p>Every figure is computed from the program's recorded events (the read models are rebuilt from "
        f"them with <code>starter.py rebuild-projections</code>); this report used events up to position "
        f"{report.position}. The report shows aggregates only: no names, no emails, no private session notes "
        f"(those are never read), no operator notes. Survey figures and anonymous feedback appear only "
        f"with at least {report.min_responses} responses; takeaway terms only when at least "
        f"{MIN_TERM_RESPONSES} takeaways use them, never a participant's name, never the text.</p></section>"
    )
    return "".join(out)


def _subtitle(p: ProgramSummary) -> str:
    parts = [f"{p.name or p.program_id} ({p.program_id})", p.stage.replace("_", " ")]
    if p.started_at:
        parts.append(f"started {_date(p.started_at)}")
    if p.closed_at:
        parts.append(f"closed {_date(p.closed_at)}")
    return " · ".join(_e(x) for x in parts)


def render_html(report: ImpactReport) -> str:
    p = report.program
    title = f"Impact report: {p.name or p.program_id}"
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in report.notes)
    baseline = ""
    if report.baseline:
        b = report.baseline
        baseline = (
            '<p class="sub">Compared with the baseline cohort '
            f"{_e(b.name or b.program_id)} ({_e(b.program_id)}): "
            f"{b.participants} participants, {b.pairings} pairings.</p>"
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8"/>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
        f'<header><h1>{_e(title)}</h1><p class="sub">{_subtitle(p)}</p>{baseline}{notes}</header>'
        + _summary(report)
        + _scorecard(report)
        + _charts(report)
        + _feedback(report)
        + _deliveries(report)
        + _method(report)
        + f"<footer>Generated {_e(report.generated_at.isoformat(timespec='seconds'))} by Tandem.</footer>"
        "</main></body></html>\n"
    )
