"""The read models behind the impact report, and the projection that feeds them from events.

Tables (migration 0021): ``rm_program`` (program summary), ``rm_participant`` (role and dates),
``rm_pairing`` (pairing status), ``rm_session`` (session log), ``rm_survey_counts`` (survey
aggregates: how many answers had each value) and ``rm_takeaway_terms`` (terms used in closeout
takeaways, with the number of responses using them).

What never reaches them: names, emails, private session notes, session topics, operator notes and
the text of takeaways. The projection reads payloads as plain JSON (no model validation: a rebuild
must run at well over 100,000 events per second) and refers to the event catalog through the
payload classes' ``TYPE`` names; a payload stored under an older schema is upcast first.

Every handler depends only on the events of its own stream, in stream order, and on counters that
add up in any order, so incremental catch-ups and a rebuild from position 0 produce the same rows.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from domain import leavers as lv
from domain import pairing as pr
from domain import program as pg
from domain import roster as ro
from domain.events import UnknownEventType, event_types, payload_class, upcast
from eventstore.projections import ProjectedEvent, ProjectionRunner

RUNNER_NAME = "tandem_read_models"
log = logging.getLogger(__name__)
_PAYLOAD_MODULES = {name: cls.__module__ for name, cls in event_types().items()}

# column name -> PostgreSQL type, in table order; the first ``key`` columns are the primary key
_TABLES: dict[str, tuple[int, tuple[tuple[str, str], ...]]] = {
    "rm_program": (
        1,
        (
            ("program_id", "text"),
            ("name", "text"),
            ("stage", "text"),
            ("config", "jsonb"),
            ("created_at", "timestamptz"),
            ("started_at", "timestamptz"),
            ("closed_at", "timestamptz"),
            ("planned_pairings", "int4"),
            ("started_pairings", "int4"),
            ("outcomes", "jsonb"),
            ("hr_as_of", "date"),
            ("leavers_imports", "int4"),
            ("last_position", "int8"),
        ),
    ),
    "rm_participant": (
        2,
        (
            ("program_id", "text"),
            ("participant_id", "text"),
            ("role", "text"),
            ("enrolled_at", "timestamptz"),
            ("withdrawn_at", "timestamptz"),
            ("left_on", "date"),
            ("last_position", "int8"),
        ),
    ),
    "rm_pairing": (
        1,
        (
            ("pairing_id", "text"),
            ("program_id", "text"),
            ("mentor_id", "text"),
            ("mentee_id", "text"),
            ("replaces", "text"),
            ("stage", "text"),
            ("proposed_at", "timestamptz"),
            ("started_at", "timestamptz"),
            ("ends_at", "timestamptz"),
            ("goals_agreed_at", "timestamptz"),
            ("goals", "int4"),
            ("goal_deadline_passed", "bool"),
            ("at_risk", "bool"),
            ("ever_at_risk", "bool"),
            ("paused", "bool"),
            ("midpoint_opened", "bool"),
            ("midpoint_skipped", "bool"),
            ("midpoint_decision", "text"),
            ("midpoint_overridden", "bool"),
            ("closeout_opened", "bool"),
            ("outcome", "text"),
            ("withdrawn_side", "text"),
            ("closed_at", "timestamptz"),
            ("held", "int4"),
            ("missed", "int4"),
            ("version", "int4"),
            ("last_position", "int8"),
        ),
    ),
    "rm_session": (
        2,
        (
            ("pairing_id", "text"),
            ("session", "int4"),
            ("program_id", "text"),
            ("scheduled_at", "timestamptz"),
            ("status", "text"),
            ("resolved_at", "timestamptz"),
            ("rating_mentor", "int2"),
            ("rating_mentee", "int2"),
            ("reschedules", "int4"),
            ("last_position", "int8"),
        ),
    ),
}
_COUNTERS = {
    "rm_survey_counts": (("program_id", "survey", "side", "question", "value"), "answers"),
    "rm_takeaway_terms": (("program_id", "term"), "responses"),
}
TABLES = (*_TABLES, *_COUNTERS)

Row = dict[str, Any]


def _defaults(table: str) -> Row:
    if table == "rm_program":
        return {"stage": "new", "planned_pairings": 0, "leavers_imports": 0}
    if table == "rm_pairing":
        flags = ("goal_deadline_passed", "at_risk", "ever_at_risk", "paused", "midpoint_opened")
        return {
            "stage": pr.Stage.PROPOSED.value,
            "goals": 0,
            "held": 0,
            "missed": 0,
            "midpoint_skipped": False,
            "closeout_opened": False,
            **dict.fromkeys(flags, False),
        }
    if table == "rm_session":
        return {"status": "scheduled", "reschedules": 0}
    return {}


def _upsert_sql(table: str) -> str:
    key, columns = _TABLES[table]
    names = [c for c, _ in columns]
    arrays = ", ".join(
        f"${i}::{'text' if t == 'jsonb' else t}[]" for i, (_, t) in enumerate(columns, start=1)
    )
    select = ", ".join(f"u.{c}::jsonb" if t == "jsonb" else f"u.{c}" for c, t in columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names[key:])
    return (
        f"INSERT INTO {table} ({', '.join(names)}) SELECT {select}"
        f" FROM unnest({arrays}) AS u({', '.join(names)})"
        f" ON CONFLICT ({', '.join(names[:key])}) DO UPDATE SET {updates}"
    )


def _counter_sql(table: str) -> str:
    keys, value = _COUNTERS[table]
    types = {"value": "int4"}
    arrays = ", ".join(f"${i}::{types.get(k, 'text')}[]" for i, k in enumerate(keys, start=1))
    n = len(keys) + 1
    names = [*keys, value]
    return (
        f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM unnest({arrays}, ${n}::int4[])"
        f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {value} = {table}.{value} + EXCLUDED.{value}"
    )


def _select_sql(table: str) -> str:
    key, columns = _TABLES[table]
    cols = ", ".join(f"{c}::text AS {c}" if t == "jsonb" else c for c, t in columns)
    if key == 1:
        return f"SELECT {cols} FROM {table} WHERE {columns[0][0]} = ANY($1::text[])"
    first, second = columns[0], columns[1]
    return (
        f"SELECT {cols} FROM {table} WHERE ({first[0]}, {second[0]}) IN"
        f" (SELECT * FROM unnest($1::text[], $2::{second[1]}[]))"
    )


_UPSERT = {t: _upsert_sql(t) for t in _TABLES}
_SELECT = {t: _select_sql(t) for t in _TABLES}
_ADD = {t: _counter_sql(t) for t in _COUNTERS}


def _ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


# -- free text: terms of takeaways ----------------------------------------------------------------

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves really much many lot lots thing things get got make made
    way well even still one two three us let like
    """.split()  # noqa: SIM905  (a word list reads better as words)
)
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def terms_of(text: str) -> set[str]:
    """The distinct terms of a takeaway: lowercased words of 3+ letters that are not stopwords."""
    normal = unicodedata.normalize("NFKC", text).casefold()
    return {w for w in _WORD.findall(normal) if len(w) >= 3 and w not in STOPWORDS}


# -- the projection ---------------------------------------------------------------------------------


class ReadModels:
    """The impact report's read models as one projection (see the module docstring)."""

    tables = TABLES
    event_types: frozenset[str]

    def __init__(self) -> None:
        self.event_types = frozenset(_Session.HANDLERS)

    def session(self, conn: Any, *, empty: bool) -> _Session:
        return _Session(conn, empty)


def runner(pool: Any, *, page_size: int = 5000) -> ProjectionRunner:
    """The runner that keeps Tandem's read models caught up (the worker's, the report's, the CLI's)."""
    return ProjectionRunner(pool, [ReadModels()], name=RUNNER_NAME, page_size=page_size)


_CURRENT_SCHEMA: dict[str, int] = {}


def _payload(event: ProjectedEvent) -> dict[str, Any]:
    current = _CURRENT_SCHEMA.get(event.type)
    if current is None:
        try:
            current = payload_class(event.type).SCHEMA_VERSION
        except UnknownEventType:  # a type this code's catalog does not register: read as stored
            current = event.schema_version
        _CURRENT_SCHEMA[event.type] = current
    if event.schema_version == current:
        return event.payload
    return upcast(event.type, event.schema_version, event.payload)


class _Session:
    """One run: rows touched by the run are loaded once, changed in memory, written back at the end."""

    HANDLERS: dict[str, Callable[[_Session, ProjectedEvent, dict[str, Any]], None]] = {}

    def __init__(self, conn: Any, empty: bool) -> None:
        self.conn = conn
        self.empty = empty
        self.rows: dict[str, dict[Any, Row]] = {t: {} for t in _TABLES}
        self.dirty: dict[str, set[Any]] = {t: set() for t in _TABLES}
        self.counts: dict[str, Counter[tuple[Any, ...]]] = {t: Counter() for t in _COUNTERS}

    # -- loading and writing ------------------------------------------------------------------------

    async def apply(self, events: Sequence[ProjectedEvent]) -> None:
        decoded = [(e, _payload(e)) for e in events]
        if not self.empty:
            await self._load(decoded)
        handlers = self.HANDLERS
        for event, payload in decoded:
            if event.stream_id.partition("-")[0] != _KINDS[event.type]:
                continue  # not one of Tandem's streams (a test's, another tool's): not ours to read
            try:
                handlers[event.type](self, event, payload)
            except (KeyError, TypeError, ValueError) as exc:
                # A malformed event must not stop every read model for good: skip it, loudly. A
                # rebuild skips it the same way, so the tables stay reproducible.
                log.warning("read models: skipped %s at position %d: %r", event.type, event.position, exc)

    async def _load(self, decoded: list[tuple[ProjectedEvent, dict[str, Any]]]) -> None:
        wanted: dict[str, set[Any]] = {t: set() for t in _TABLES}
        for event, payload in decoded:
            kind, _, key = event.stream_id.partition("-")
            if kind != _KINDS.get(event.type):
                continue
            if kind == "pairing":
                wanted["rm_pairing"].add(key)
                if event.type in _SESSION_TYPES:
                    wanted["rm_session"].add((key, payload.get("session")))
            elif event.type == ro.ParticipantEnrolled.TYPE:
                wanted["rm_participant"].add((key, payload.get("participant", {}).get("participant_id")))
            elif event.type in _PARTICIPANT_TYPES:
                wanted["rm_participant"].add((key, payload.get("participant_id")))
            else:
                wanted["rm_program"].add(key)
        for table, keys in wanted.items():
            cache = self.rows[table]
            missing = [k for k in keys if k not in cache]
            if not missing:
                continue
            if _TABLES[table][0] == 1:
                found = await self.conn.fetch(_SELECT[table], missing)
                for record in found:
                    cache[record[0]] = dict(record)
            else:
                found = await self.conn.fetch(
                    _SELECT[table], [k[0] for k in missing], [k[1] for k in missing]
                )
                for record in found:
                    cache[(record[0], record[1])] = dict(record)

    async def finish(self) -> None:
        for table, (_key, columns) in _TABLES.items():
            dirty = self.dirty[table]
            if not dirty:
                continue
            cache = self.rows[table]
            rows = [cache[k] for k in dirty]
            arrays = []
            for name, kind in columns:
                values = [row.get(name) for row in rows]
                if kind == "jsonb":
                    values = [
                        v if v is None or isinstance(v, str) else json.dumps(v, sort_keys=True)
                        for v in values
                    ]
                arrays.append(values)
            if self.empty and all(kind != "jsonb" for _, kind in columns):
                # a rebuild into emptied tables has nothing to merge with: COPY instead of an upsert
                # (jsonb columns keep the upsert: this connection's jsonb codec is text-only)
                await self.conn.copy_records_to_table(
                    table, records=list(zip(*arrays, strict=True)), columns=[name for name, _ in columns]
                )
            else:
                await self.conn.execute(_UPSERT[table], *arrays)
        for table, counter in self.counts.items():
            if not counter:
                continue
            keys = list(counter)
            arrays = [list(column) for column in zip(*keys, strict=True)]
            await self.conn.execute(_ADD[table], *arrays, [counter[k] for k in keys])

    def _row(self, table: str, key: Any, position: int, first: dict[str, Any]) -> Row:
        cache = self.rows[table]
        row = cache.get(key)
        if row is None:
            row = cache[key] = {**_defaults(table), **first}
        if position > (row.get("last_position") or 0):
            row["last_position"] = position
        self.dirty[table].add(key)
        return row

    # -- program and roster streams -------------------------------------------------------------------

    def program(self, event: ProjectedEvent) -> Row:
        program_id = event.stream_id.partition("-")[2]
        return self._row("rm_program", program_id, event.position, {"program_id": program_id})

    def participant(self, event: ProjectedEvent, participant_id: str) -> Row:
        program_id = event.stream_id.partition("-")[2]
        key = (program_id, participant_id)
        return self._row(
            "rm_participant",
            key,
            event.position,
            {"program_id": program_id, "participant_id": participant_id},
        )

    def pairing(self, event: ProjectedEvent) -> Row:
        pairing_id = event.stream_id.partition("-")[2]
        row = self._row("rm_pairing", pairing_id, event.position, {"pairing_id": pairing_id})
        row["version"] = max(row.get("version") or 0, event.version)
        return row

    def session_row(self, event: ProjectedEvent, pairing: Row, number: int) -> Row:
        key = (pairing["pairing_id"], number)
        row = self._row(
            "rm_session",
            key,
            event.position,
            {"pairing_id": pairing["pairing_id"], "session": number, "program_id": pairing.get("program_id")},
        )
        return row

    def count(self, pairing: Row, survey: str, side: str, question: str, value: int) -> None:
        counter = self.counts["rm_survey_counts"]
        key = (pairing.get("program_id") or "", survey, side, question, value)
        counter[key] = counter.get(key, 0) + 1  # not `+= 1`: Counter's __missing__ is a Python call


def _on(*types: str) -> Callable[[Callable[[_Session, ProjectedEvent, dict[str, Any]], None]], None]:
    def register(fn: Callable[[_Session, ProjectedEvent, dict[str, Any]], None]) -> None:
        for type_name in types:
            _Session.HANDLERS[type_name] = fn
            _KINDS[type_name] = _stream_kind(type_name)

    return register


_KINDS: dict[str, str] = {}  # event type -> the kind of stream it must come from ("pairing", ...)
_PARTICIPANT_TYPES = frozenset(
    {ro.ParticipantWithdrawn.TYPE, lv.ParticipantLeftCompany.TYPE, ro.ParticipantEnrolled.TYPE}
)
_SESSION_TYPES = frozenset(
    {
        pr.SessionScheduled.TYPE,
        pr.SessionCheckedIn.TYPE,
        pr.SessionHeld.TYPE,
        pr.SessionMissed.TYPE,
        pr.SessionRescheduled.TYPE,
    }
)
_ROSTER_TYPES = _PARTICIPANT_TYPES | {lv.LeaversImported.TYPE}


def _stream_kind(type_name: str) -> str:
    if type_name in _ROSTER_TYPES:
        return "roster"
    payload = _PAYLOAD_MODULES.get(type_name)
    return "pairing" if payload == pr.__name__ else "program"


@_on(pg.ProgramCreated.TYPE)
def _program_created(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    row = s.program(e)
    row.update(name=p["name"], created_at=e.occurred_at)
    if row["stage"] == "new":
        row["stage"] = pg.ProgramStage.CREATED.value


@_on(pg.ProgramConfigured.TYPE)
def _program_configured(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    row = s.program(e)
    row["config"] = json.dumps(p["config"], sort_keys=True)
    row["name"] = p["config"].get("name", row.get("name"))


@_on(pg.PairingPlanned.TYPE)
def _pairing_planned(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    row = s.program(e)
    row["planned_pairings"] += 1


@_on(pg.ProgramStarted.TYPE)
def _program_started(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.program(e).update(
        stage=pg.ProgramStage.RUNNING.value, started_at=e.occurred_at, started_pairings=p["pairings"]
    )


@_on(pg.ProgramClosed.TYPE)
def _program_closed(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.program(e).update(
        stage=pg.ProgramStage.CLOSED.value,
        closed_at=e.occurred_at,
        outcomes=json.dumps(p["outcomes"], sort_keys=True),
    )


@_on(ro.ParticipantEnrolled.TYPE)
def _enrolled(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    person = p["participant"]  # only the id and the role are kept: no name, no email
    s.participant(e, person["participant_id"]).update(role=person["role"], enrolled_at=e.occurred_at)


@_on(ro.ParticipantWithdrawn.TYPE)
def _withdrawn(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.participant(e, p["participant_id"])["withdrawn_at"] = e.occurred_at


@_on(lv.ParticipantLeftCompany.TYPE)
def _left(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.participant(e, p["participant_id"])["left_on"] = date.fromisoformat(p["left_on"])


@_on(lv.LeaversImported.TYPE)
def _leavers_imported(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    row = s.program(e)
    as_of = date.fromisoformat(p["as_of"])
    row["hr_as_of"] = as_of if row.get("hr_as_of") is None else max(row["hr_as_of"], as_of)
    row["leavers_imports"] += 1


# -- pairing streams --------------------------------------------------------------------------------


@_on(pr.PairingProposed.TYPE)
def _proposed(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.pairing(e).update(
        program_id=p["program_id"],
        mentor_id=p["mentor_id"],
        mentee_id=p["mentee_id"],
        replaces=p.get("replaces"),
        proposed_at=e.occurred_at,
    )


@_on(pr.PairingStarted.TYPE)
def _started(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.pairing(e).update(
        stage=pr.Stage.GOAL_SETTING.value, started_at=_ts(p["starts_at"]), ends_at=_ts(p["ends_at"])
    )


@_on(pr.GoalsAgreed.TYPE)
def _agreed(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.pairing(e).update(goals_agreed_at=e.occurred_at, goals=len(p["goals"]), stage=pr.Stage.SESSIONS.value)


@_on(pr.GoalDeadlinePassed.TYPE)
def _deadline(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.pairing(e)["goal_deadline_passed"] = True


@_on(pr.SessionScheduled.TYPE)
def _scheduled(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.session_row(e, s.pairing(e), p["session"])["scheduled_at"] = _ts(p["at"])


@_on(pr.SessionCheckedIn.TYPE)
def _checked_in(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    # the rating only: the private note and the topics are never read
    rating = p.get("rating")
    row = s.session_row(e, s.pairing(e), p["session"])
    if rating is not None:
        row["rating_mentor" if p["side"] == "mentor" else "rating_mentee"] = rating


@_on(pr.SessionHeld.TYPE, pr.SessionMissed.TYPE)
def _resolved(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    pairing = s.pairing(e)
    held = e.type == pr.SessionHeld.TYPE
    status = pr.SessionStatus.HELD if held else pr.SessionStatus.MISSED
    s.session_row(e, pairing, p["session"]).update(status=status.value, resolved_at=e.occurred_at)
    pairing["held" if held else "missed"] += 1


@_on(pr.SessionRescheduled.TYPE)
def _rescheduled(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    row = s.session_row(e, s.pairing(e), p["session"])
    row.update(
        scheduled_at=_ts(p["to_at"]),
        status=pr.SessionStatus.RESCHEDULED.value,
        rating_mentor=None,
        rating_mentee=None,
        reschedules=row["reschedules"] + 1,
    )


@_on(pr.AtRiskFlagged.TYPE)
def _at_risk(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.pairing(e).update(at_risk=True, ever_at_risk=True)


@_on(pr.AtRiskCleared.TYPE)
def _at_risk_cleared(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.pairing(e)["at_risk"] = False


@_on(pr.FitCheckAnswered.TYPE)
def _fit_check(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.count(s.pairing(e), "fit_check", p["side"], "wants_new_partner", int(bool(p["wants_new_partner"])))


@_on(pr.MidpointReviewOpened.TYPE)
def _midpoint_opened(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.pairing(e).update(stage=pr.Stage.MIDPOINT_REVIEW.value, midpoint_opened=True)


@_on(pr.MidpointSkipped.TYPE)
def _midpoint_skipped(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.pairing(e)["midpoint_skipped"] = True


@_on(pr.MidpointReviewSubmitted.TYPE)
def _midpoint_submitted(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    pairing, side = s.pairing(e), p["side"]
    s.count(pairing, "midpoint", side, "submitted", 1)
    s.count(pairing, "midpoint", side, "relationship", p["relationship"])
    s.count(pairing, "midpoint", side, "psychological_safety", p["psychological_safety"])
    for value in p["progress"]:
        s.count(pairing, "midpoint", side, "progress", value)


@_on(pr.MidpointDecided.TYPE)
def _midpoint_decided(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    row = s.pairing(e)
    row.update(midpoint_decision=p["decision"], midpoint_overridden=p["overridden"])
    if p["decision"] == pr.MidpointDecision.CONTINUE.value:
        row["stage"] = pr.Stage.SESSIONS.value


@_on(pr.PairingPaused.TYPE)
def _paused(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.pairing(e)["paused"] = True


@_on(pr.PairingResumed.TYPE)
def _resumed(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.pairing(e)["paused"] = False


@_on(pr.PairingExtended.TYPE)
def _extended(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    row = s.pairing(e)
    row["ends_at"] = _ts(p["ends_at"])
    if row["stage"] == pr.Stage.CLOSEOUT.value:  # sessions reopen, as in the domain's evolve
        row["stage"] = (pr.Stage.SESSIONS if row["goals_agreed_at"] else pr.Stage.GOAL_SETTING).value


@_on(pr.CloseoutOpened.TYPE)
def _closeout_opened(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.pairing(e).update(stage=pr.Stage.CLOSEOUT.value, closeout_opened=True)


@_on(pr.CloseoutSubmitted.TYPE)
def _closeout_submitted(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    pairing, side = s.pairing(e), p["side"]
    s.count(pairing, "closeout", side, "submitted", 1)
    s.count(pairing, "closeout", side, "satisfaction", p["satisfaction"])
    s.count(pairing, "closeout", side, "would_recommend", p["would_recommend"])
    for value in p["attainment"]:
        s.count(pairing, "closeout", side, "attainment", value)
    text = p.get("takeaways") or ""
    s.count(pairing, "closeout", side, "takeaways", 1 if text.strip() else 0)
    terms = s.counts["rm_takeaway_terms"]
    for term in terms_of(text):
        terms[(pairing.get("program_id") or "", term)] += 1


@_on(pr.PairingClosed.TYPE)
def _closed(s: _Session, e: ProjectedEvent, p: dict[str, Any]) -> None:
    s.pairing(e).update(
        stage=pr.Stage.CLOSED.value,
        outcome=p["outcome"],
        withdrawn_side=p.get("withdrawn_side"),
        closed_at=e.occurred_at,
        at_risk=False,
        paused=False,
    )
