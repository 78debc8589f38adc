"""ProgramWorkflow: starts every pairing as a child workflow and closes when all have closed.

Pairings report every change (stage, at risk, outcome) to the program by signal (sent by the
activity that records the change), so the program keeps live counts for operators without
polling, and needs no handle on its children: it can continue-as-new with its counts (a
5,000-pairing program would outgrow one history) while the children, started with
``ParentClosePolicy.ABANDON``, run on. Closed pairings are acted upon in batches (_after_closes).

It carries ids and schedule terms only: names, emails and the matching preferences stay in the
event store, so the program's history holds no personal data.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.common import Priority, RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.models import (
        PairingSpec,
        PairingStatus,
        PlanChunk,
        PlanPage,
        RecordBatch,
        RecordOutcome,
        RematchBatch,
        RematchProposal,
        RematchProposals,
        RematchRequest,
        RematchWanted,
        WithdrawalBatch,
        WithdrawalRequest,
    )
    from domain.events import Event
    from domain.pairing import PairingTerms
    from domain.program import (
        CloseProgram,
        ProgramStage,
        ProgramState,
        StartProgram,
        decide_program,
        evolve_program,
    )
    from workflows import search
    from workflows.pairing import HISTORY_LIMIT as PAIRING_HISTORY_LIMIT
    from workflows.pairing import REVISION as PAIRING_REVISION
    from workflows.pairing import PairingInput, PairingWorkflow, card, workflow_id_for

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
START_BATCH = 100  # children started per batch by programs started before "start-in-chunks"
# Children are started in chunks small enough that the events they cause during one of the program's
# workflow tasks stay under the server's buffer (history.maximumBufferedEventsBatch, 100 by default):
# each start adds a ChildWorkflowExecutionStarted event and, soon after, the child's first report.
# Past the buffer the server fails the task in flight; the worker then drops the program from its
# cache and replays its whole history on the next task, which at 1,000 pairings took 7-10 s, long
# enough for the buffer to overflow again: starting 1,000 pairings took 115 s instead of seconds.
START_CHUNK = 40
PLAN_PAGE = 500  # planned pairings read from the store per activity call
# A program that takes this patch makes its calls to the store (a page of its plan, withdrawals,
# rematches) as local activities: in the worker, inside the workflow task that needs them, which then
# goes on to start the children. As regular activities each call was a server round trip of its
# own, taken while every pairing's tasks queued on the same server: at 100 simulated pairings a
# rematched pairing's successor recorded its first event a median 0.8-1.3 s after its predecessor's
# close (five runs), and 0.45-0.5 s as local activities (five runs). All three are safe to run again
# if the task is lost: the first two read, and withdrawals already recorded are skipped. Programs
# that called them as regular activities replay unchanged.
LOCAL_CALLS = "program-local-calls"
# A rematch's successor starts mid-program with a whole lifecycle ahead of it, while the pairings the
# program planned are already part-way through theirs: when the worker falls behind, the successor's
# tasks go first (Temporal's task queue priority, lower key first; 3 is the server's default). At 100
# simulated pairings the planned ones ended at a median 13.2 s and the successors ran on, almost alone,
# to 17.2-17.5 s (two runs); with the successors first, every pairing had ended by 16.4-17.1 s (seven
# runs, same program). Outside simulations the worker rarely falls behind, and then this changes nothing.
PLANNED_PRIORITY = Priority(priority_key=3)
SUCCESSOR_PRIORITY = Priority(priority_key=2)
# Continue-as-new at this many events, well before Temporal's 50k limit and the server's suggestion
# (4,096). Pairings signal the program all the time, so its continue-as-new is almost always refused
# once (a signal arrived during that task): the worker then drops the program from its cache and
# replays the run's whole history, and until that replay ends the server refuses every report ("the
# workflow is closing"), so publishes wait. At 1,000 pairings a replay of 4-5k events took over 5 s;
# shorter runs cost the same replay work in total but in short pauses that publishes ride out.
HISTORY_LIMIT = 1_500
STAGES = ("proposed", "goal_setting", "sessions", "midpoint_review", "closeout", "closed")


_OUTCOMES = ("", "completed", "ended_early", "withdrawn", "rematched")
_SIDES = ("", "mentor", "mentee")
Row = list[str | int]
T = TypeVar("T")


class ProgramCarry(BaseModel):
    """What a program hands to its next run on continue-as-new, compact: one short row per pairing,
    so that a 5,000-pairing program's carry stays far below Temporal's payload limit."""

    model_config = ConfigDict(frozen=True)

    version: int
    started: int
    plan_cursor: int = 0
    successors: int = 0
    rows: list[Row] = Field(default_factory=list)
    tried_mentors: dict[str, list[str]] = Field(default_factory=dict)
    withdrawn: list[str] = Field(default_factory=list)
    unmatched: list[str] = Field(default_factory=list)


def _pack(program_id: str, status: PairingStatus, handled: bool) -> Row:
    flags = (
        int(status.at_risk)
        | int(status.ever_at_risk) << 1
        | int(status.goals_overdue) << 2
        | int(handled) << 3
    )
    derived = f"{program_id}.{status.mentee_id}.{status.mentor_id}"
    return [
        status.mentee_id,
        status.mentor_id,
        STAGES.index(status.stage),
        flags,
        _OUTCOMES.index(status.outcome or ""),
        _SIDES.index(status.withdrawn_side or ""),
        status.held_sessions,
        status.version,
        "" if status.pairing_id == derived else status.pairing_id,
    ]


def _unpack(program_id: str, row: Row) -> tuple[PairingStatus, bool]:
    mentee, mentor, stage, flags, outcome, side, held, version, pairing_id = row
    status = PairingStatus(
        pairing_id=str(pairing_id) or f"{program_id}.{mentee}.{mentor}",
        mentee_id=str(mentee),
        mentor_id=str(mentor),
        stage=STAGES[int(stage)],
        at_risk=bool(int(flags) & 1),
        ever_at_risk=bool(int(flags) & 2),
        goals_overdue=bool(int(flags) & 4),
        outcome=_OUTCOMES[int(outcome)] or None,
        withdrawn_side=_SIDES[int(side)] or None,
        held_sessions=int(held),
        version=int(version),
    )
    return status, bool(int(flags) & 8)


class ProgramInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    program_id: str
    program_version: int = Field(ge=1, description="program stream version written by the starter")
    terms: PairingTerms
    planned: int = Field(0, ge=0, description="pairings planned in the program stream (read in pages)")
    pairings: list[PairingSpec] = Field(default_factory=list, description="inline plan of the first version")
    channel: str = "console"
    simulation_seed: int | None = None
    max_rematches: int = Field(2, ge=0, description="new mentors one mentee may get after the first")
    history_limit: int = HISTORY_LIMIT  # events before continue-as-new (lower in tests)
    pairing_history_limit: int = PAIRING_HISTORY_LIMIT
    carried: ProgramCarry | None = None


class ProgramSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    program_id: str
    stage: str = "running"
    pairings: int
    started: int
    closed: int
    by_stage: dict[str, int] = Field(default_factory=dict)
    at_risk: int = 0
    goals_overdue: int = 0
    outcomes: dict[str, int]
    at_risk_ever: int
    held_sessions: int
    rematches: int = 0
    unmatched_after_rematch: int = 0


def program_workflow_id(program_id: str) -> str:
    return f"program-{program_id}"


@workflow.defn
class ProgramWorkflow:
    @workflow.init
    def __init__(self, inp: ProgramInput) -> None:
        self.inp = inp
        carried = inp.carried
        self.state = ProgramState(
            program_id=inp.program_id,
            version=carried.version if carried else inp.program_version,
            stage=ProgramStage.RUNNING if carried else ProgramStage.CREATED,
        )
        self.started = carried.started if carried else 0
        self.plan_cursor = carried.plan_cursor if carried else inp.program_version - inp.planned
        self.successors = carried.successors if carried else 0
        self.statuses: dict[str, PairingStatus] = {}
        # rematches: mentee -> mentors tried so far; closed pairings already acted upon
        self.handled: set[str] = set()
        for row in carried.rows if carried else []:
            status, handled = _unpack(inp.program_id, row)
            self.statuses[status.pairing_id] = status
            if handled:
                self.handled.add(status.pairing_id)
        self.tried_mentors: dict[str, list[str]] = dict(carried.tried_mentors) if carried else {}
        self.withdrawn: set[str] = set(carried.withdrawn) if carried else set()
        # kept incrementally, so that waiting costs O(1) per signal even with thousands of pairings
        self.closed_ids = {pid for pid, st in self.statuses.items() if st.stage == "closed"}
        self.pending = sorted(pid for pid in self.closed_ids if pid not in self.handled)
        self.unmatched: list[str] = list(carried.unmatched) if carried else []
        self.in_batches: bool | None = None  # see _closes_in_batches

    @workflow.run
    async def run(self, inp: ProgramInput) -> ProgramSummary:
        if inp.carried is None:
            await self._record(
                decide_program(self.state, StartProgram(pairings=self._total()), workflow.now())
            )
        # Programs read their plan from the event store in pages (history stays small at 5,000
        # pairings); the first version took it inline in its input. Patched: old histories replay.
        from_store = workflow.patched("plan-from-event-store")
        in_chunks = self.started < self._total() and workflow.patched("start-in-chunks")
        while self.started < self._total():
            if not from_store:
                batch = inp.pairings[self.started : self.started + START_BATCH]
            else:
                batch = await self._next_batch(PLAN_PAGE if in_chunks else START_BATCH)
            if not batch:
                raise ApplicationError(
                    f"program {inp.program_id}: the plan ends after {self.started} pairings"
                )
            for chunk in _chunks(batch, START_CHUNK if in_chunks else len(batch)):
                # one workflow task issues the whole chunk of start commands
                await asyncio.gather(*(self._start_child(spec) for spec in chunk))
                self.started += len(chunk)
            self._continue_as_new_if_long()
        while not self._all_closed():
            await workflow.wait_condition(
                lambda: self._all_closed() or bool(self.pending) or self._history_long()
            )
            if self.pending and self._closes_in_batches():
                closing = list(self.pending)  # closes that arrive meanwhile wait for the next batch
                await self._after_closes([self.statuses[pid] for pid in closing])
                del self.pending[: len(closing)]
            else:
                while self.pending:
                    await self._after_close(self.statuses[self.pending[0]])
                    self.pending.pop(0)
            self._continue_as_new_if_long()
        summary = self._summary()
        await self._record(
            decide_program(self.state, CloseProgram(outcomes=summary.outcomes), workflow.now())
        )
        return summary.model_copy(update={"stage": "closed"})

    def _total(self) -> int:
        return self.inp.planned or len(self.inp.pairings)

    async def _next_batch(self, page: int) -> list[PairingSpec]:
        page_wanted = PlanPage(
            program_id=self.inp.program_id,
            after_version=self.plan_cursor,
            limit=min(page, self._total() - self.started),
        )
        chunk = await _call("load_plan", page_wanted, PlanChunk, timedelta(minutes=1))
        self.plan_cursor = chunk.last_version
        return chunk.pairings

    async def _start_child(self, spec: PairingSpec, replaces: str | None = None) -> None:
        inp = PairingInput(
            pairing_id=spec.pairing_id,
            program_id=self.inp.program_id,
            mentor_id=spec.mentor_id,
            mentee_id=spec.mentee_id,
            terms=self.inp.terms,
            score=spec.score,
            reasons=spec.reasons,
            channel=self.inp.channel,
            simulation_seed=self.inp.simulation_seed,
            history_limit=self.inp.pairing_history_limit,
            replaces=replaces,
            revision=PAIRING_REVISION,
        )
        await workflow.start_child_workflow(
            PairingWorkflow.run,
            inp,
            id=workflow_id_for(inp.pairing_id),
            search_attributes=_child_attributes(self.inp.program_id),
            memo=card(inp),
            parent_close_policy=ParentClosePolicy.ABANDON,
            priority=PLANNED_PRIORITY if replaces is None else SUCCESSOR_PRIORITY,
        )
        # counted once it exists (a signal from the child may already have arrived)
        self.statuses.setdefault(
            spec.pairing_id,
            PairingStatus(
                pairing_id=spec.pairing_id,
                mentee_id=spec.mentee_id,
                mentor_id=spec.mentor_id,
                stage="proposed",
            ),
        )

    @workflow.signal(name="pairing_changed")
    def pairing_changed(self, status: PairingStatus) -> None:
        """One pairing's report: sent by pairings started before "report-by-publish", and by
        workers that predate coalesced reports (see ``pairings_changed``)."""
        self._count(status)

    @workflow.signal(name="pairings_changed")
    def pairings_changed(self, statuses: list[PairingStatus]) -> None:
        """The reports of every pairing that changed while the worker's previous signal to this
        program was in flight (activities.publish.ProgramReports): one signal, one history event."""
        for status in statuses:
            self._count(status)

    def _count(self, status: PairingStatus) -> None:
        known = self.statuses.get(status.pairing_id)
        if known is None or status.version >= known.version:  # signals may arrive out of order
            self.statuses[status.pairing_id] = status
            if status.stage == "closed" and status.pairing_id not in self.closed_ids:
                self.closed_ids.add(status.pairing_id)
                if status.pairing_id not in self.handled:
                    self.pending.append(status.pairing_id)

    def _all_closed(self) -> bool:
        return (
            self.started >= len(self.inp.pairings)
            and len(self.closed_ids) == len(self.statuses)
            and not self.pending
        )

    def _closes_in_batches(self) -> bool:
        """Closed pairings are acted upon together: every withdrawal in one activity, every rematch
        in one more, all successors started at once. One by one, each rematch cost the program
        three round trips in a row; at 1,000 pairings the successors of the midpoint's rematches
        started minutes late and ran on alone after everything else had closed. Patched: programs
        that handled them one by one replay unchanged (decided at the first close)."""
        if self.in_batches is None:
            self.in_batches = workflow.patched("rematch-in-batches")
        return self.in_batches

    async def _after_closes(self, closed: list[PairingStatus]) -> None:
        """Leavers leave the roster; mentees who lost a mentor get new ones (matched in one call, in
        the order their pairings closed)."""
        leavers: dict[str, PairingStatus] = {}
        for status in closed:
            leaver = _leaver(status)
            if leaver is not None and leaver not in self.withdrawn:
                leavers.setdefault(leaver, status)
        if leavers:
            withdrawals = WithdrawalBatch(
                program_id=self.inp.program_id,
                withdrawals=[self._withdrawal(pid, st) for pid, st in leavers.items()],
            )
            await _call("withdraw_participants", withdrawals, int, timedelta(minutes=1))
            self.withdrawn.update(leavers)
        wanted = [old for old in closed if _needs_mentor(old) and self._may_rematch(old)]
        if wanted:
            rematches = RematchBatch(
                program_id=self.inp.program_id,
                wanted=[
                    RematchWanted(mentee_id=old.mentee_id, exclude_mentors=self._excluded(old))
                    for old in wanted
                ],
                current_assignments=self._running(),
            )
            result = await _call("propose_rematches", rematches, RematchProposals, timedelta(minutes=2))
            successors = []
            for old, proposal in zip(wanted, result.proposals, strict=True):
                if proposal is None:
                    self.unmatched.append(old.mentee_id)
                else:
                    successors.append((self._successor(old, proposal), old.pairing_id))
            for chunk in _chunks(successors, START_CHUNK):  # see START_CHUNK
                await asyncio.gather(*(self._start_child(spec, replaces=old) for spec, old in chunk))
                self.successors += len(chunk)
        self.handled.update(status.pairing_id for status in closed)

    async def _after_close(self, status: PairingStatus) -> None:
        """One close at a time: programs started before "rematch-in-batches"."""
        leaver = _leaver(status)
        if leaver is not None and leaver not in self.withdrawn:
            await workflow.execute_activity(
                "withdraw_participant",
                self._withdrawal(leaver, status),
                result_type=int,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=RETRY,
            )
            self.withdrawn.add(leaver)
        if _needs_mentor(status):
            await self._rematch(status)
        self.handled.add(status.pairing_id)

    def _withdrawal(self, participant_id: str, status: PairingStatus) -> WithdrawalRequest:
        return WithdrawalRequest(
            program_id=self.inp.program_id,
            participant_id=participant_id,
            reason=f"withdrew from pairing {status.pairing_id}",
            occurred_at=workflow.now(),
        )

    def _may_rematch(self, old: PairingStatus) -> bool:
        """Counts the old mentor as tried; a mentee past the program's rematch limit stays unmatched."""
        tried = self.tried_mentors.setdefault(old.mentee_id, [])
        if old.mentor_id not in tried:
            tried.append(old.mentor_id)
        if len(tried) > self.inp.max_rematches:
            self.unmatched.append(old.mentee_id)
            return False
        return True

    def _excluded(self, old: PairingStatus) -> list[str]:
        return sorted(set(self.tried_mentors[old.mentee_id]) | self.withdrawn)

    def _running(self) -> list[tuple[str, str]]:
        return [(s.mentor_id, s.mentee_id) for s in self.statuses.values() if s.stage != "closed"]

    def _successor(self, old: PairingStatus, proposal: RematchProposal) -> PairingSpec:
        return PairingSpec(
            pairing_id=f"{self.inp.program_id}.{old.mentee_id}.{proposal.mentor_id}",
            mentor_id=proposal.mentor_id,
            mentee_id=old.mentee_id,
            score=proposal.score,
            reasons=proposal.reasons,
        )

    async def _rematch(self, old: PairingStatus) -> None:
        if not self._may_rematch(old):
            return
        proposal = await workflow.execute_activity(
            "propose_rematch",
            RematchRequest(
                program_id=self.inp.program_id,
                mentee_id=old.mentee_id,
                current_assignments=self._running(),
                exclude_mentors=self._excluded(old),
            ),
            result_type=RematchProposal | None,  # type: ignore[arg-type]
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RETRY,
        )
        if proposal is None:
            self.unmatched.append(old.mentee_id)
            return
        await self._start_child(self._successor(old, proposal), replaces=old.pairing_id)
        self.successors += 1

    def _history_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested() or info.get_current_history_length() > self.inp.history_limit
        )

    def _continue_as_new_if_long(self) -> None:
        if self._history_long():
            carry = ProgramCarry(
                version=self.state.version,
                started=self.started,
                plan_cursor=self.plan_cursor,
                successors=self.successors,
                rows=[
                    _pack(self.inp.program_id, st, pid in self.handled) for pid, st in self.statuses.items()
                ],
                tried_mentors=self.tried_mentors,
                withdrawn=sorted(self.withdrawn),
                unmatched=self.unmatched,
            )
            workflow.continue_as_new(self.inp.model_copy(update={"carried": carry}))

    async def _record(self, events: list[Event]) -> None:
        if not events:
            return
        await workflow.execute_activity(
            "record_events",
            RecordBatch(stream_id=self.state.stream_id, expected_version=self.state.version, events=events),
            result_type=RecordOutcome,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
            ),
        )
        for event in events:
            self.state = evolve_program(self.state, event)

    def _summary(self) -> ProgramSummary:
        statuses = list(self.statuses.values())
        by_stage = dict.fromkeys(STAGES, 0)
        outcomes: dict[str, int] = {}
        for s in statuses:
            by_stage[s.stage] = by_stage.get(s.stage, 0) + 1
            if s.outcome:
                outcomes[s.outcome] = outcomes.get(s.outcome, 0) + 1
        return ProgramSummary(
            program_id=self.inp.program_id,
            stage=self.state.stage.value,
            pairings=max(self._total(), len(statuses)),
            started=self.started,
            closed=by_stage["closed"],
            by_stage=by_stage,
            at_risk=sum(1 for s in statuses if s.at_risk),
            goals_overdue=sum(1 for s in statuses if s.goals_overdue),
            outcomes=dict(sorted(outcomes.items())),
            at_risk_ever=sum(1 for s in statuses if s.ever_at_risk),
            held_sessions=sum(s.held_sessions for s in statuses),
            rematches=self.successors,
            unmatched_after_rematch=len(self.unmatched),
        )

    @workflow.query(name="summary")
    def query_summary(self) -> ProgramSummary:
        return self._summary()


async def _call(name: str, arg: Any, result_type: type[T], limit: timedelta) -> T:
    """One of the program's calls to the store: a local activity since LOCAL_CALLS."""
    if workflow.patched(LOCAL_CALLS):
        return await workflow.execute_local_activity(
            name, arg, result_type=result_type, start_to_close_timeout=limit, retry_policy=RETRY
        )
    return await workflow.execute_activity(
        name, arg, result_type=result_type, start_to_close_timeout=limit, retry_policy=RETRY
    )


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


def _leaver(status: PairingStatus) -> str | None:
    """Who left the roster with this pairing's close: the side that withdrew, if any."""
    return {"mentor": status.mentor_id, "mentee": status.mentee_id}.get(status.withdrawn_side or "")


def _needs_mentor(status: PairingStatus) -> bool:
    return status.outcome == "rematched" or (
        status.outcome == "withdrawn" and status.withdrawn_side == "mentor"
    )


def _child_attributes(program_id: str) -> TypedSearchAttributes:
    """A new pairing is visible in the UI at once, filterable by program and stage."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(search.PROGRAM_ID, program_id),
            SearchAttributePair(search.PAIRING_STAGE, "proposed"),
            SearchAttributePair(search.AT_RISK, False),
        ]
    )
