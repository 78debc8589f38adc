"""The matching activities against a real event store: rematches see the roster as it is now."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from activities.matching import Matcher
from activities.models import (
    RematchBatch,
    RematchRequest,
    RematchWanted,
    WithdrawalBatch,
    WithdrawalRequest,
)
from domain.program import ProgramConfig
from domain.roster import Participant, Role
from eventstore import EventStore
from tandem import operations
from tests.workflows.helpers import person


async def _enrolled(
    store: EventStore, *, mentors: int, mentees: int
) -> tuple[str, list[Participant], list[Participant]]:
    """A program enrolled in the store with its planned pairings: its id, mentors and mentees."""
    program_id = f"match-{uuid.uuid4().hex[:8]}"
    ms = [person(program_id, n, Role.MENTOR) for n in range(mentors)]
    es = [person(program_id, n, Role.MENTEE) for n in range(mentees)]
    inputs = operations.Inputs(config=ProgramConfig(id=program_id, name="matching"), participants=[*ms, *es])
    _, specs = operations.plan(inputs)
    await operations.enrol(store, inputs, specs)
    return program_id, ms, es


async def test_a_rematch_reads_what_changed_since_the_last_one(store: EventStore) -> None:
    """The matcher keeps each program's folded roster between calls and reads only what is new: a
    mentor withdrawn after one rematch must not be proposed by the next (same worker, same cache)."""
    program_id, mentors, mentees = await _enrolled(store, mentors=3, mentees=3)
    matcher = Matcher(store)
    mentee = mentees[0].participant_id

    first = await matcher.propose_rematch(
        RematchRequest(program_id=program_id, mentee_id=mentee, current_assignments=[], exclude_mentors=[])
    )
    assert first is not None and first.mentor_id in {m.participant_id for m in mentors}

    await matcher.withdraw_participant(
        WithdrawalRequest(
            program_id=program_id, participant_id=first.mentor_id, occurred_at=datetime.now(UTC)
        )
    )
    second = await matcher.propose_rematch(
        RematchRequest(program_id=program_id, mentee_id=mentee, current_assignments=[], exclude_mentors=[])
    )
    assert second is not None and second.mentor_id != first.mentor_id  # the withdrawal was read

    # a second worker (no cache) agrees with the cached one
    fresh = await Matcher(store).propose_rematch(
        RematchRequest(program_id=program_id, mentee_id=mentee, current_assignments=[], exclude_mentors=[])
    )
    assert fresh == second


async def test_a_programs_closes_are_matched_and_recorded_in_one_call_each(store: EventStore) -> None:
    """Withdrawals in one append (a retried call appends nothing twice); rematches matched in the
    order asked, each taking its mentor's capacity, as one-by-one calls would."""
    program_id, mentors, mentees = await _enrolled(store, mentors=4, mentees=3)
    matcher = Matcher(store)
    now = datetime.now(UTC)
    leavers = [mentors[0].participant_id, mentors[1].participant_id]
    batch = WithdrawalBatch(
        program_id=program_id,
        withdrawals=[
            WithdrawalRequest(program_id=program_id, participant_id=pid, occurred_at=now)
            for pid in [*leavers, leavers[0]]  # the same leaver twice
        ],
    )
    version = await matcher.withdraw_participants(batch)
    assert await matcher.withdraw_participants(batch) == version  # a retry records nothing
    withdrawn = [
        e.payload["participant_id"]
        for e in await store.read_stream(f"roster-{program_id}")
        if e.type == "ParticipantWithdrawn"
    ]
    assert withdrawn == leavers

    wanted = [RematchWanted(mentee_id=m.participant_id, exclude_mentors=[]) for m in mentees]
    together = await matcher.propose_rematches(
        RematchBatch(program_id=program_id, wanted=wanted, current_assignments=[])
    )
    proposed = [p.mentor_id if p else None for p in together.proposals]
    # two mentors left (capacity one each): the first two mentees get them, the third nobody
    assert proposed[2] is None and set(proposed[:2]) == {m.participant_id for m in mentors[2:]}
    assignments: list[tuple[str, str]] = []
    for want, mentor_id in zip(wanted[:2], proposed[:2], strict=True):
        alone = await matcher.propose_rematch(
            RematchRequest(
                program_id=program_id,
                mentee_id=want.mentee_id,
                current_assignments=assignments,
                exclude_mentors=[],
            )
        )
        assert alone is not None and alone.mentor_id == mentor_id
        assignments.append((alone.mentor_id, want.mentee_id))
