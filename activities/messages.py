"""Rendering a notice for one person: subject, text and HTML from Jinja2 templates.

Only here do names and addresses meet the notice's text; nothing rendered goes back into a workflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from domain.calendar import CalendarEntry
from domain.notifications import Notice

TEMPLATES = Path(__file__).parent / "templates"

SUBJECTS = {
    "welcome": "Your reverse-mentoring pairing has started",
    "goals_to_agree": "Agree on your pairing's goals",
    "partner_agreed_goals": "Your partner agreed to a goal list",
    "goals_agreed": "Goals agreed: your sessions are planned",
    "goals_reminder": "Reminder: goals are due soon",
    "goals_overdue": "Goal-setting deadline passed",
    "session_reminder": "Session reminder",
    "checkin_request": "How did your session go?",
    "fit_check": "Fit check: is this pairing working for you?",
    "closeout_reminder": "Reminder: closeout survey",
    "at_risk": "Pairing at risk",
    "at_risk_cleared": "Pairing no longer at risk",
    "midpoint_skipped": "Midpoint review skipped",
    "session_missed": "Session missed",
    "session_rescheduled": "Session rescheduled",
    "rematch_requested": "Confidential: new partner requested",
    "midpoint_review": "Midpoint review",
    "midpoint_decision": "Midpoint decision proposed",
    "midpoint_decided": "Midpoint decision",
    "closeout_survey": "Closeout survey",
    "paused": "Your pairing is paused",
    "resumed": "Your pairing has resumed",
    "extended": "Your pairing was extended",
    "closed": "Your pairing has closed",
}

ACTIONS = {
    "propose_goals": "propose 1-5 goals, each with a measurable signal, in the participant portal.",
    "agree_goals": "review the goal list and agree to it in the participant portal.",
    "log_session": "check in for the session (held, missed or rescheduled) in the participant portal.",
    "fit_check": "answer the fit check in the participant portal; your answer stays confidential.",
    "midpoint": "answer the midpoint review in the participant portal.",
    "closeout": "answer the closeout survey in the participant portal.",
}

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    chat: str


def local_time(moment: datetime, zone: str) -> str:
    """'Tue 12 Jan 2027, 10:00 (Europe/Berlin)': what the person's own clock will show."""
    return f"{moment.astimezone(ZoneInfo(zone)):%a %d %b %Y, %H:%M} ({zone})"


def render(
    notice: Notice,
    *,
    name: str,
    zone: str,
    program: str,
    sessions: list[CalendarEntry],
    minutes: int,
    link: str = "",
) -> Rendered:
    subject = SUBJECTS.get(notice.template, "News about your reverse-mentoring pairing")
    context = {
        "name": name,
        "subject": subject,
        "summary": notice.summary,
        "action": ACTIONS.get(notice.action, "") if notice.action else "",
        "program": program,
        "minutes": minutes,
        "link": link,
        "sessions": [
            {"number": e.session, "local": local_time(e.start, zone), "cancelled": e.cancelled}
            for e in sessions
        ],
    }
    return Rendered(
        subject=f"[{program}] {subject}",
        text=_env.get_template("email.txt.j2").render(context),
        html=_env.get_template("email.html.j2").render(context),
        chat=_env.get_template("chat.txt.j2").render(context).strip(),
    )
