"""The matching activities against a real event store: rematches see the roster as it is now."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from activities.matching import Matcher
from activities.models import RematchRequest, WithdrawalRequest
from domain.program import ProgramConfig
from domain.roster import Role
from eventstore import EventStore
from tandem import operations
from tests.workflows.helpers import person


async def test_a_rematch_reads_what_changed_since_the_last_one(store: EventStore) -> None:
    """The matcher keeps each program's folded roster between calls and reads only what is new: a
    mentor withdrawn after one rematch must not be proposed by the next (same worker, same cache)."""
    program_id = f"match-{uuid.uuid4().hex[:8]}"
    mentors = [person(program_id, n, Role.MENTOR) for n in range(3)]
    mentees = [person(program_id, n, Role.MENTEE) for n in range(3)]
    inputs = operations.Inputs(
        config=ProgramConfig(id=program_id, name="matching"), participants=[*mentors, *mentees]
    )
    _, specs = operations.plan(inputs)
    await operations.enrol(store, inputs, specs)
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
