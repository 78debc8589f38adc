"""The impact report: read models fed from events, metrics against the program's targets, and the
report as self-contained HTML with charts, JSON and CSV.

    report = await report_for(pool, "rm-pilot-2027", baseline_id="rm-pilot-2026")
    html, data, table = render_html(report), to_dict(report), to_csv(report)
"""

from tandem.report.export import to_csv, to_dict
from tandem.report.html import render_html
from tandem.report.metrics import ImpactReport, build_report
from tandem.report.read_models import runner
from tandem.report.store import UnknownProgram, report_for

__all__ = [
    "ImpactReport",
    "UnknownProgram",
    "build_report",
    "render_html",
    "report_for",
    "runner",
    "to_csv",
    "to_dict",
]
