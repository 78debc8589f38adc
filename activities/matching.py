"""Matching during a running program: a new mentor for a mentee after a rematch or a withdrawal,
and recording a participant's withdrawal in the roster.

Both read the program and its roster from the event store (where the personal data lives) and
hand the workflow ids only.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.models import (
    PairingSpec,
    PlanChunk,
    PlanPage,
    RematchBatch,
    RematchProposal,
    RematchProposals,
    RematchRequest,
    RematchWanted,
    WithdrawalBatch,
    WithdrawalRequest,
)
from activities.record import from_recorded, load_stream, to_new_event
from domain.errors import DomainError
from domain.matching import propose_rematches
from domain.program import PairingPlanned, ProgramState, evolve_program, program_stream, replay_program
from domain.roster import (
    RosterState,
    WithdrawParticipant,
    decide_roster,
    evolve_roster,
    replay_roster,
    roster_stream,
)
from eventstore import EventStore, VersionConflict
from tandem.operations import utc_offsets

KEPT_PROGRAMS = 8  # programs whose folded roster a worker keeps between rematches


class Matcher:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        # program id -> (program, roster) as last folded: a rematch reads only what is new since.
        # A 5,000-pairing program's streams hold 15,000 events; reading and folding them all on every
        # rematch kept the worker's event loop busy for seconds each time, late in such a program.
        self._folded: dict[str, tuple[ProgramState, RosterState]] = {}

    async def _current(self, program_id: str) -> tuple[ProgramState, RosterState]:
        """The program and its roster as the store has them now (the store is the truth: only the
        events after the versions already folded are read and folded)."""
        known = self._folded.pop(program_id, None)
        if known is None:
            program = replay_program(program_id, await load_stream(self.store, program_stream(program_id)))
            roster = replay_roster(program_id, await load_stream(self.store, roster_stream(program_id)))
        else:
            program, roster = known
            for recorded in await self.store.read_stream(program_stream(program_id), program.version + 1):
                program = evolve_program(program, from_recorded(recorded))
            for recorded in await self.store.read_stream(roster_stream(program_id), roster.version + 1):
                roster = evolve_roster(roster, from_recorded(recorded))
        self._folded[program_id] = (program, roster)  # most recently used last
        while len(self._folded) > KEPT_PROGRAMS:
            del self._folded[next(iter(self._folded))]
        return program, roster

    @activity.defn(name="propose_rematches")
    async def propose_rematches(self, batch: RematchBatch) -> RematchProposals:
        """Every rematch a program has waiting, in one call (one round trip, however many closed)."""
        program, roster = await self._current(batch.program_id)
        if program.config is None:
            raise ApplicationError(f"program {batch.program_id} has no configuration", non_retryable=True)
        active = [p for pid, p in roster.participants.items() if pid not in roster.withdrawn]
        try:
            pairs = propose_rematches(
                program.config,
                active,
                [(w.mentee_id, w.exclude_mentors) for w in batch.wanted],
                current_assignments=batch.current_assignments,
                offsets=utc_offsets(active),
            )
        except DomainError as err:  # a broken rule fails the same way on every retry
            raise ApplicationError(
                err.message, err.to_dict(), type=type(err).__name__, non_retryable=True
            ) from None
        return RematchProposals(
            proposals=[
                RematchProposal(mentor_id=p.mentor.participant_id, score=p.score, reasons=p.reasons)
                if p
                else None
                for p in pairs
            ]
        )

    @activity.defn(name="propose_rematch")
    async def propose_rematch(self, request: RematchRequest) -> RematchProposal | None:
        """One mentee at a time: what programs started before "rematch-in-batches" still call."""
        batch = RematchBatch(
            program_id=request.program_id,
            wanted=[RematchWanted(mentee_id=request.mentee_id, exclude_mentors=request.exclude_mentors)],
            current_assignments=request.current_assignments,
        )
        return (await self.propose_rematches(batch)).proposals[0]

    @activity.defn(name="load_plan")
    async def load_plan(self, page: PlanPage) -> PlanChunk:
        """The next page of the program's planned pairings (recorded by the starter)."""
        specs: list[PairingSpec] = []
        last = page.after_version
        stream = program_stream(page.program_id)
        for recorded in await self.store.read_stream(stream, page.after_version + 1, limit=page.limit + 2):
            if recorded.type != PairingPlanned.TYPE:
                if specs:
                    break
                last = recorded.version
                continue
            planned = PairingPlanned.model_validate(recorded.payload)
            specs.append(PairingSpec(**planned.model_dump()))
            last = recorded.version
            if len(specs) >= page.limit:
                break
        return PlanChunk(pairings=specs, last_version=last)

    @activity.defn(name="withdraw_participants")
    async def withdraw_participants(self, batch: WithdrawalBatch) -> int:
        """Record the withdrawals in the roster stream in one append (idempotent: those already
        recorded are skipped, so a retried call records nothing twice). The roster is the one
        folded for rematches, brought up to date: replaying all of it on every call cost a
        1,000-pairing program's worker a whole stream read and parse per batch of closes."""
        stream = roster_stream(batch.program_id)
        for _ in range(5):  # optimistic concurrency: re-read and retry on a conflicting append
            _, roster = await self._current(batch.program_id)
            start, events = roster.version, []
            for request in batch.withdrawals:
                if request.participant_id in roster.withdrawn:
                    continue
                decided = decide_roster(
                    roster,
                    WithdrawParticipant(participant_id=request.participant_id, reason=request.reason),
                    request.occurred_at,
                )
                for event in decided:
                    roster = evolve_roster(roster, event)
                events.extend(decided)
            if not events:
                return roster.version
            try:
                result = await self.store.append(stream, start, [to_new_event(e) for e in events])
            except VersionConflict:
                continue
            return result.version
        raise ApplicationError(f"roster {batch.program_id} kept changing; will retry")

    @activity.defn(name="withdraw_participant")
    async def withdraw_participant(self, request: WithdrawalRequest) -> int:
        """One at a time: what programs started before "rematch-in-batches" still call."""
        return await self.withdraw_participants(
            WithdrawalBatch(program_id=request.program_id, withdrawals=[request])
        )
