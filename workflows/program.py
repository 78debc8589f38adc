"""ProgramWorkflow: starts every pairing as a child workflow and closes when all have closed.

It carries ids and schedule terms only: names, emails and the matching preferences stay in the
event store, so the program's history holds no personal data.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.models import RecordBatch, RecordOutcome
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
    from workflows.pairing import PairingInput, PairingResult, PairingWorkflow, workflow_id_for

START_BATCH = 100  # children started per batch: bounded bursts against the server


class PairingSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    pairing_id: str
    mentor_id: str
    mentee_id: str
    score: float | None = None
    reasons: tuple[str, ...] = ()


class ProgramInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    program_id: str
    program_version: int = Field(ge=1, description="program stream version written by the starter")
    terms: PairingTerms
    pairings: list[PairingSpec]
    channel: str = "console"
    simulation_seed: int | None = None


class ProgramSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    program_id: str
    pairings: int
    started: int
    closed: int
    outcomes: dict[str, int]
    at_risk_ever: int
    held_sessions: int


def program_workflow_id(program_id: str) -> str:
    return f"program-{program_id}"


@workflow.defn
class ProgramWorkflow:
    @workflow.init
    def __init__(self, inp: ProgramInput) -> None:
        self.inp = inp
        self.state = ProgramState(
            program_id=inp.program_id, version=inp.program_version, stage=ProgramStage.CREATED
        )
        self.started = 0
        self.results: dict[str, PairingResult] = {}

    @workflow.run
    async def run(self, inp: ProgramInput) -> ProgramSummary:
        await self._record(
            decide_program(self.state, StartProgram(pairings=len(inp.pairings)), workflow.now())
        )
        handles = []
        for first in range(0, len(inp.pairings), START_BATCH):
            batch = inp.pairings[first : first + START_BATCH]
            started = await asyncio.gather(*(self._start_child(spec) for spec in batch))
            handles.extend(started)
            self.started += len(batch)
        results = await asyncio.gather(*(self._await_child(h) for h in handles))
        for result in results:
            self.results[result.pairing_id] = result
        summary = self._summary()
        await self._record(
            decide_program(self.state, CloseProgram(outcomes=summary.outcomes), workflow.now())
        )
        return summary

    async def _start_child(
        self, spec: PairingSpec
    ) -> workflow.ChildWorkflowHandle[PairingWorkflow, PairingResult]:
        return await workflow.start_child_workflow(
            PairingWorkflow.run,
            PairingInput(
                pairing_id=spec.pairing_id,
                program_id=self.inp.program_id,
                mentor_id=spec.mentor_id,
                mentee_id=spec.mentee_id,
                terms=self.inp.terms,
                score=spec.score,
                reasons=spec.reasons,
                channel=self.inp.channel,
                simulation_seed=self.inp.simulation_seed,
            ),
            id=workflow_id_for(spec.pairing_id),
            search_attributes=_child_attributes(self.inp.program_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
        )

    async def _await_child(
        self, handle: workflow.ChildWorkflowHandle[PairingWorkflow, PairingResult]
    ) -> PairingResult:
        result = await handle
        self.results[result.pairing_id] = result
        return result

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
        outcomes: dict[str, int] = {}
        for result in self.results.values():
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        return ProgramSummary(
            program_id=self.inp.program_id,
            pairings=len(self.inp.pairings),
            started=self.started,
            closed=len(self.results),
            outcomes=dict(sorted(outcomes.items())),
            at_risk_ever=sum(1 for r in self.results.values() if r.ever_at_risk),
            held_sessions=sum(r.held_sessions for r in self.results.values()),
        )

    @workflow.query(name="summary")
    def query_summary(self) -> ProgramSummary:
        return self._summary()


def _child_attributes(program_id: str) -> TypedSearchAttributes:
    """A new pairing is visible in the UI at once, filterable by program and stage."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(search.PROGRAM_ID, program_id),
            SearchAttributePair(search.PAIRING_STAGE, "proposed"),
            SearchAttributePair(search.AT_RISK, False),
        ]
    )
