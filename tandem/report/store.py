"""Reading a program's read models (and, for one purpose only, its roster) from PostgreSQL.

All reads of one report happen in one REPEATABLE READ, read-only transaction, so every figure comes
from the same moment of the read models, and the report states the checkpoint position they were at.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from domain.program import ProgramConfig
from domain.roster import ParticipantEnrolled, roster_stream
from tandem.deliveries import deliveries
from tandem.report import read_models
from tandem.report.metrics import MIN_RESPONSES, ImpactReport, ProgramData, build_report


class UnknownProgram(LookupError):
    pass


async def load_program(conn: Any, program_id: str) -> ProgramData | None:
    """The program's read-model rows (``None`` when the read models know no such program)."""
    row = await conn.fetchrow(
        "SELECT program_id, name, stage, config::text AS config, created_at, started_at, closed_at, hr_as_of"
        " FROM rm_program WHERE program_id = $1",
        program_id,
    )
    if row is None:
        return None
    config = None
    if row["config"] is not None:
        try:
            config = ProgramConfig.model_validate(json.loads(row["config"]))
        except ValueError:
            config = None  # a configuration this code can no longer read: the report shows no targets
    participants = await conn.fetch(
        "SELECT role, withdrawn_at, left_on FROM rm_participant WHERE program_id = $1", program_id
    )
    pairings = await conn.fetch(
        "SELECT pairing_id, stage, started_at, goals_agreed_at, ever_at_risk, midpoint_opened,"
        " closeout_opened, outcome, held, missed FROM rm_pairing WHERE program_id = $1 ORDER BY pairing_id",
        program_id,
    )
    sessions = await conn.fetch(
        "SELECT status, resolved_at, rating_mentor, rating_mentee FROM rm_session"
        " WHERE program_id = $1 ORDER BY pairing_id, session",
        program_id,
    )
    survey: dict[tuple[str, str, str], dict[int, int]] = defaultdict(dict)
    for r in await conn.fetch(
        "SELECT survey, side, question, value, answers FROM rm_survey_counts WHERE program_id = $1",
        program_id,
    ):
        survey[(r["survey"], r["side"], r["question"])][r["value"]] = r["answers"]
    terms = {
        r["term"]: r["responses"]
        for r in await conn.fetch(
            "SELECT term, responses FROM rm_takeaway_terms WHERE program_id = $1", program_id
        )
    }
    position = await conn.fetchval(
        "SELECT position FROM projection_checkpoints WHERE name = $1", read_models.RUNNER_NAME
    )
    return ProgramData(
        program_id=row["program_id"],
        name=row["name"],
        stage=row["stage"],
        config=config,
        created_at=row["created_at"],
        started_at=row["started_at"],
        closed_at=row["closed_at"],
        hr_as_of=row["hr_as_of"],
        participants=[dict(r) for r in participants],
        pairings=[dict(r) for r in pairings],
        sessions=[dict(r) for r in sessions],
        survey=dict(survey),
        takeaway_terms=terms,
        position=position or 0,
        deliveries=await deliveries(conn, program_id),
    )


_NAME_PART = re.compile(r"[^\W\d_]+")


async def name_terms(conn: Any, program_id: str) -> frozenset[str]:
    """Every word of the participants' names and email local parts, lowercased: words that must never
    appear among takeaway terms. Read from the roster stream and used only for that exclusion."""
    rows = await conn.fetch(
        "SELECT payload->'participant'->>'name' AS name, payload->'participant'->>'email' AS email"
        " FROM events WHERE stream_id = $1 AND type = $2",
        roster_stream(program_id),
        ParticipantEnrolled.TYPE,
    )
    words: set[str] = set()
    for r in rows:
        for text in (r["name"] or "", (r["email"] or "").partition("@")[0]):
            words.update(w.casefold() for w in _NAME_PART.findall(text))
    return frozenset(words)


async def report_for(
    pool: Any,
    program_id: str,
    *,
    baseline_id: str | None = None,
    now: datetime | None = None,
    catch_up: bool = True,
    min_responses: int = MIN_RESPONSES,
) -> ImpactReport:
    """Catch the read models up (unless told not to), then build the program's report from them."""
    if catch_up:
        await read_models.runner(pool).catch_up()
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        data = await load_program(conn, program_id)
        if data is None:
            raise UnknownProgram(f"no program {program_id!r} in the event store")
        baseline = None
        if baseline_id is not None:
            baseline = await load_program(conn, baseline_id)
            if baseline is None:
                raise UnknownProgram(f"no baseline program {baseline_id!r} in the event store")
        excluded = await name_terms(conn, program_id)
    return build_report(
        data,
        baseline=baseline,
        now=now or datetime.now(UTC),
        excluded_terms=excluded,
        min_responses=min_responses,
    )
