"""What the starter does, as functions: load and validate files, enrol a program, start it.

Files are read here (I/O), parsed by the pure ``domain`` parsers, and every problem of both files is
reported together. Enrolment writes the program and roster streams straight into the event store
(personal data stays out of Temporal); the program workflow then receives ids and terms only.
"""

from __future__ import annotations

import os
import stat
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import TimeSkipper, TimeSkippingConfig

from activities.models import PairingSpec
from activities.record import to_new_event
from domain.matching import Proposal, pairing_id_for, propose_pairings
from domain.pairing import PairingTerms
from domain.pairings_file import parse_pairings
from domain.program import (
    CreateProgram,
    PairingPlanned,
    PlanPairings,
    ProgramConfig,
    decide_program,
    evolve_program,
    initial_program,
    program_stream,
)
from domain.program_file import parse_program
from domain.roster import EnrollParticipant, Participant, decide_roster, evolve_roster, initial_roster
from domain.roster_file import parse_roster
from domain.validation import InvalidInput, Problem
from eventstore import EventStore
from workflows import search
from workflows.program import ProgramInput, ProgramSummary, ProgramWorkflow, program_workflow_id

MAX_FILE_BYTES = 64 * 1024 * 1024
# Per kind of file: far above any real file (a 10,000-person roster is ~3 MB), far below what would
# strain the machine. Larger files are refused before they are read.
MAX_PROGRAM_BYTES = 1024 * 1024
MAX_ROSTER_BYTES = 32 * 1024 * 1024
MAX_PAIRINGS_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Inputs:
    config: ProgramConfig
    participants: list[Participant]


def read_text(
    path: Path, problems: list[Problem], limit: int = MAX_FILE_BYTES, what: str = "file"
) -> str | None:
    """The UTF-8 text of the regular file ``path``, reading at most ``limit`` + 1 bytes; any problem
    (missing, a directory, a device or pipe, too large, not UTF-8) is added to ``problems``."""
    name = str(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode) and not path.is_dir():  # opening a pipe would block
            problems.append(Problem(name, 1, 1, "is not a regular file (a device, pipe or socket)"))
            return None
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                problems.append(Problem(name, 1, 1, "is not a regular file (a device, pipe or socket)"))
                return None
            # refused unread when too large; read bounded even if the file grows meanwhile
            data = b"" if info.st_size > limit else handle.read(limit + 1)
        if info.st_size > limit or len(data) > limit:
            size = max(info.st_size, len(data))
            problems.append(
                Problem(name, 1, 1, f"{what} is {size:,} bytes; the limit is {limit:,} bytes, refused unread")
            )
            return None
        return data.decode("utf-8")
    except FileNotFoundError:
        problems.append(Problem(name, 1, 1, "file not found"))
    except IsADirectoryError:
        problems.append(Problem(name, 1, 1, "is a directory, not a file"))
    except PermissionError:
        problems.append(Problem(name, 1, 1, "permission denied"))
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, 1, 1, f"not UTF-8 text (byte {exc.start}: {exc.reason})"))
    except OSError as exc:
        problems.append(Problem(name, 1, 1, f"cannot be read: {exc.strerror or exc}"))
    return None


def load_inputs(program_path: Path, roster_path: Path) -> Inputs:
    """Parse and validate both files; raise InvalidInput with every problem of both at once."""
    problems: list[Problem] = []
    program_text = read_text(program_path, problems, MAX_PROGRAM_BYTES, "program file")
    roster_text = read_text(roster_path, problems, MAX_ROSTER_BYTES, "roster")
    config: ProgramConfig | None = None
    if program_text is not None:
        try:
            config = parse_program(program_text, str(program_path))
        except InvalidInput as exc:
            problems.extend(exc.problems)
    participants: list[Participant] = []
    if roster_text is not None:
        try:
            participants = parse_roster(
                roster_text,
                str(roster_path),
                program_id=config.id if config else "unknown",
                known_timezones=frozenset(zoneinfo.available_timezones()),
                reverse_pairs=config.matching.reverse_pairs if config else True,
            )
        except InvalidInput as exc:
            problems.extend(exc.problems)
    if problems or config is None:
        raise InvalidInput(problems)
    return Inputs(config=config, participants=participants)


def load_pairings(path: Path, inputs: Inputs) -> Proposal:
    """Parse and check an operator-edited pairings file against the validated program and roster;
    raise InvalidInput with every problem (an unreadable file is one of them)."""
    problems: list[Problem] = []
    text = read_text(path, problems, MAX_PAIRINGS_BYTES, "pairings file")
    if text is None:
        raise InvalidInput(problems)
    return parse_pairings(
        text,
        str(path),
        config=inputs.config,
        participants=inputs.participants,
        offsets=utc_offsets(inputs.participants),
    )


def utc_offsets(participants: list[Participant], at: datetime | None = None) -> dict[str, float]:
    """Each participant's time zone -> hours east of UTC at ``at`` (default: now), for the matcher.

    The pure matcher cannot read the time-zone database, so working-hours overlap is computed from
    offsets taken here, at one reference instant: the day the matching runs unless a date is given
    (``starter.py match --at``). Daylight-saving changes after that instant are not followed.
    """
    instant = at or datetime.now(UTC)
    offsets: dict[str, float] = {}
    for zone in sorted({p.timezone for p in participants}):
        try:
            delta = instant.astimezone(zoneinfo.ZoneInfo(zone)).utcoffset()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue  # unknown zones were reported by the roster parser; the matcher treats them as unknown
        if delta is not None:
            offsets[zone] = delta.total_seconds() / 3600
    return offsets


def plan(
    inputs: Inputs, proposal: Proposal | None = None, *, at: datetime | None = None
) -> tuple[Proposal, list[PairingSpec]]:
    """The pairings to start: the given proposal (from a pairings file) or the matcher's own (optimal,
    with UTC offsets taken at ``at``, default now)."""
    if proposal is None:
        offsets = utc_offsets(inputs.participants, at)
        proposal = propose_pairings(inputs.config, inputs.participants, offsets=offsets)
    specs = [
        PairingSpec(
            pairing_id=pairing_id_for(inputs.config.id, p.mentor, p.mentee),
            mentor_id=p.mentor.participant_id,
            mentee_id=p.mentee.participant_id,
            score=p.score,
            reasons=p.reasons,
        )
        for p in proposal.pairs
    ]
    return proposal, specs


class ProgramExists(RuntimeError):
    pass


async def enrol(
    store: EventStore, inputs: Inputs, specs: Sequence[PairingSpec], now: datetime | None = None
) -> int:
    """Record the program, its planned pairings and its roster in one transaction; returns the
    program stream's version (what the program workflow appends after)."""
    now = now or datetime.now(UTC)
    program_id = inputs.config.id
    if await store.stream_version(program_stream(program_id)) > 0:
        raise ProgramExists(f"program {program_id!r} already exists; choose another id in the program file")
    program = initial_program(program_id)
    program_events = decide_program(program, CreateProgram(config=inputs.config), now)
    for event in program_events:
        program = evolve_program(program, event)
    plan = PlanPairings(pairings=tuple(PairingPlanned(**spec.model_dump()) for spec in specs))
    program_events += decide_program(program, plan, now)
    roster = initial_roster(program_id)
    roster_events = []
    for person in inputs.participants:
        events = decide_roster(roster, EnrollParticipant(participant=person), now)
        for event in events:
            roster = evolve_roster(roster, event)
        roster_events.extend(events)
    await store.append_batches(
        [
            (program_stream(program_id), 0, [to_new_event(e) for e in program_events]),
            (roster.stream_id, 0, [to_new_event(e) for e in roster_events]),
        ]
    )
    return program_events[-1].version


# Time skipping for simulated programs; pairings inherit it from their program. The server stops
# skipping a workflow's clock after 200 skips unless told otherwise, and every timer and every
# activity retry is a skip: a pairing whose publish retried through a database outage (each retry
# skipped at once, ~90 in 4 s) went on in real time and never ended; so would one with more than
# 200 timers (a long program with weekly sessions).
SIMULATION_TIME_SKIPPING = TimeSkippingConfig(enabled=True, max_session_skip_count=1_000_000)


async def start_program(
    client: Client,
    task_queue: str,
    inputs: Inputs,
    specs: list[PairingSpec],
    program_version: int,
    *,
    simulation_seed: int | None = None,
    time_skipping: bool = False,
) -> WorkflowHandle[ProgramWorkflow, ProgramSummary]:
    channel = "simulated" if simulation_seed is not None else inputs.config.notifications.channel.value
    starter = client
    if time_skipping:
        starter = TimeSkipper(client, config=SIMULATION_TIME_SKIPPING).client
    return await starter.start_workflow(
        ProgramWorkflow.run,
        ProgramInput(
            program_id=inputs.config.id,
            program_version=program_version,
            terms=PairingTerms.from_program(inputs.config),
            planned=len(specs),
            channel=channel,
            simulation_seed=simulation_seed,
        ),
        id=program_workflow_id(inputs.config.id),
        task_queue=task_queue,
        search_attributes=_program_attributes(inputs.config.id),
        task_timeout=PROGRAM_TASK_TIMEOUT,
    )


# One program workflow hears from every pairing: with thousands running, one of its workflow tasks can
# carry thousands of status signals, on a worker busy with the pairings' own tasks. Under Temporal's
# default 10 s such a task was dropped while still being worked on, and its retry carried even more
# (seen at 5,000 pairings: tasks of 7-17 s, each dropped). Continue-as-new keeps the setting.
PROGRAM_TASK_TIMEOUT = timedelta(seconds=60)


def _program_attributes(program_id: str) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(search.PROGRAM_ID, program_id)])
