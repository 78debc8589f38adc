"""PairingWorkflow: one durable lifecycle per mentor–mentee pair.

The loop is the same at every stage: record and announce what was decided, sleep until the domain's
next alarm (or until an Update changes the state), tick the clock, repeat. Participant and operator
actions arrive as Updates whose validators run the domain's ``decide`` on the current state, so a
bad value is rejected before anything is written to history.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from pydantic import BaseModel, ConfigDict
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.models import (
        DeliveryBatch,
        DeliveryReport,
        EventRow,
        PairingStatus,
        ProgramReport,
        PublishBatch,
        PublishOutcome,
        RecordBatch,
    )
    from domain import simulation
    from domain.errors import DomainError
    from domain.events import Event
    from domain.notifications import Notice, notices_for
    from domain.pairing import (
        AddNote,
        AgreeGoals,
        Alarm,
        AnswerFitCheck,
        Extend,
        LogSession,
        OverrideMidpoint,
        PairingState,
        PairingTerms,
        Pause,
        ProposeGoals,
        ProposePairing,
        Rematch,
        Resume,
        Stage,
        StartPairing,
        SubmitCloseout,
        SubmitMidpoint,
        Tick,
        Withdraw,
        _Command,
        decide,
        evolve,
        initial_pairing,
        next_alarm,
    )
    from workflows import search

PUBLISH_TIMEOUT = timedelta(minutes=1)
PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=1)
)
# A regular activity lost with a killed worker is retried only after this timeout: keep it short (a
# publish takes milliseconds; a slow one is simply retried, both halves being idempotent).
PUBLISH_ACTIVITY_TIMEOUT = timedelta(seconds=20)
TICK = Tick()  # the clock's command carries nothing: one for every alarm
HISTORY_LIMIT = 8_000  # continue-as-new well before Temporal's 50k-event / 50 MB limits
# Simulated people answer notices that their own answers cause (propose -> agree): a bound, not a rule.
SIMULATED_ROUNDS = 8
# A simulated pairing records its events when something anyone watches changes (stage, at risk, paused,
# an operator's Update) or when this many are waiting: see _flush_due.
SIMULATED_BATCH = 64
# Pairings started since this patch take every change that came with a patch of its own before it
# ("pairing-memo", "publish-after-commit", "report-by-publish", "simulate-in-workflow"): the SDK writes
# a marker and a TemporalChangeVersion upsert into a new history for each patch it takes, so four
# patches cost eight events and four visibility writes per pairing, and this one costs two. Pairings
# started before it have no such marker: they consult the four patches as they did (see _patched).
# It also upserts the UI's view once per flush rather than at every change (see _show_changes).
V2_PATCH = "pairing-v2"
# The revision of the pairing logic that a new pairing follows, carried in its input (and on to its
# continued runs) instead of a patch: a patch costs every new history a marker and a
# TemporalChangeVersion upsert (two events, one visibility write) for as long as the code keeps it.
#   2 (or none: inputs written before revisions existed): the V2_PATCH branches, consulted as before.
#   3: every V2_PATCH change without consulting it; the memo is a card written when the pairing starts
#      and its summary written when it closes, not rewritten at every stage (see _show).
#   4: the close is shown (stage, outcome, the memo's summary) in the workflow task that completes the
#      pairing, once its last events are recorded: the server then folds that upsert into the close
#      of the execution's visibility record instead of writing it once more on its own.
# Whoever starts a pairing passes REVISION; later changes take revision 5, or a patch.
REVISION = 4
MEMO_KEY = "summary"  # the memo's one entry (see PairingWorkflow._memo)


class PairingInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    pairing_id: str
    program_id: str
    mentor_id: str
    mentee_id: str
    terms: PairingTerms
    score: float | None = None
    reasons: tuple[str, ...] = ()
    replaces: str | None = None
    channel: str = "console"
    simulation_seed: int | None = None
    revision: int = 2  # see REVISION; an input without one predates revisions
    history_limit: int = HISTORY_LIMIT  # events before continue-as-new (lower in tests)
    carried_state: PairingState | None = None  # set on continue-as-new
    carried_events: int = 0


class PairingResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    pairing_id: str
    outcome: str
    version: int
    held_sessions: int
    ever_at_risk: bool


class ActionResult(BaseModel):
    """What an Update reports back: the events it caused (types only) and the new version."""

    model_config = ConfigDict(frozen=True)

    accepted: bool
    events: list[str]
    version: int
    stage: str


class _Applied:
    """An event as the workflow applied it: the state right after it and the notices it causes.

    Both are computed once, when the event is applied; publishing (its notices, the state it
    reports) and the simulated people (the notices they answer) read them here. Folding each event
    again for each of them was a fifth of the pairing's own CPU in a simulated program.
    """

    __slots__ = ("event", "notices", "state")

    def __init__(self, event: Event, state: PairingState) -> None:
        self.event, self.state, self.notices = event, state, notices_for(state, event)


class EventRef(BaseModel):
    """An event as the ``events`` query shows it: identity without payload (payloads may be private)."""

    model_config = ConfigDict(frozen=True)

    version: int
    event_id: str
    type: str


def status_of(s: PairingState) -> PairingStatus:
    return PairingStatus(
        pairing_id=s.pairing_id,
        mentee_id=s.mentee_id,
        mentor_id=s.mentor_id,
        stage=s.stage.value,
        at_risk=s.at_risk,
        ever_at_risk=s.ever_at_risk,
        outcome=s.outcome.value if s.outcome else None,
        withdrawn_side=s.withdrawn_side,
        held_sessions=s.held_sessions,
        goals_overdue=s.goal_deadline_passed and not s.goals,
        version=s.version,
    )


def _counted(status: PairingStatus | None) -> PairingStatus | None:
    """What the program counts: a change in anything else (version, sessions held) is not reported."""
    return status.model_copy(update={"version": 0, "held_sessions": 0}) if status else None


def workflow_id_for(pairing_id: str) -> str:
    return f"pairing-{pairing_id}"


def card(inp: PairingInput) -> dict[str, dict[str, object]]:
    """The memo a pairing starts with: what stays true for its whole life (program, the pairing it
    replaces, its logic's revision). Ids only, no personal data. Its close adds the outcome."""
    return {MEMO_KEY: {"program": inp.program_id, "replaces": inp.replaces, "revision": inp.revision}}


@workflow.defn
class PairingWorkflow:
    @workflow.init
    def __init__(self, inp: PairingInput) -> None:
        self.inp = inp
        self.state: PairingState = inp.carried_state or initial_pairing(inp.pairing_id)
        self.recorded_version = self.state.version
        self.published_state = self.state
        self.unpublished: list[_Applied] = []
        self.refs: list[EventRef] = []
        self.events_before = inp.carried_events
        self.lock = asyncio.Lock()
        self.reported: PairingStatus | None = None
        # what _report_due compared last, and the state and report it was built from
        self._counted_state: PairingState | None = None
        self._counted_now: PairingStatus | None = None
        self._counted_report: PairingStatus | None = None
        self._counted_last: PairingStatus | None = None
        self.simulates_here: bool | None = None  # see _simulates_in_workflow
        self.unsimulated: list[_Applied] = []  # events whose notices simulated people have not yet seen
        self.urgent = False  # an Update's events wait: record them now, whatever the batching
        self.reports_by_publish = False  # see _report
        # first: before anything below consults a patch; revision 3 has V2_PATCH without its marker
        self.v2 = inp.revision >= 3 or workflow.patched(V2_PATCH)
        self.shown = (self.state.stage, self.state.at_risk)  # as the UI has it (see _show_changes)
        # Propose and start here, not in run(): Updates that arrive with the first workflow task are
        # handled before run() begins, and must already find a started pairing.
        if self.state.version == 0:
            self._apply(
                decide(
                    self.state,
                    ProposePairing(
                        pairing_id=self.inp.pairing_id,
                        program_id=self.inp.program_id,
                        mentor_id=self.inp.mentor_id,
                        mentee_id=self.inp.mentee_id,
                        score=self.inp.score,
                        reasons=self.inp.reasons,
                        replaces=self.inp.replaces,
                    ),
                    workflow.now(),
                )
            )
            self._apply(decide(self.state, StartPairing(terms=self.inp.terms), workflow.now()))
        # Reports to the program ride on the publish activity (patched: pairings that signal the
        # program themselves replay unchanged). Decided once, before any Update can publish.
        if workflow.info().parent is not None:
            self.reports_by_publish = self._patched("report-by-publish")

    def _patched(self, patch_id: str) -> bool:
        """``workflow.patched`` for the changes that predate V2_PATCH: a v2 pairing has them all."""
        return self.v2 or workflow.patched(patch_id)

    # -- the loop ---------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: PairingInput) -> PairingResult:
        while True:
            await self._publish()
            await self._report()
            if self.state.stage is Stage.CLOSED:
                break
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._publish(force=True)
                workflow.continue_as_new(
                    inp.model_copy(
                        update={
                            "carried_state": self.state,
                            "carried_events": self.events_before + len(self.refs),
                        }
                    )
                )
            await self._wait_for_alarm_or_action(next_alarm(self.state))
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._publish(force=True)
        # the last report: the close may have happened while an earlier report was in flight
        await self._report()
        if self.inp.revision >= 4:
            self._show()  # with the completion: one visibility write for both
        return PairingResult(
            pairing_id=inp.pairing_id,
            outcome=str(self.state.outcome),
            version=self.state.version,
            held_sessions=self.state.held_sessions,
            ever_at_risk=self.state.ever_at_risk,
        )

    async def _wait_for_alarm_or_action(self, alarm: Alarm | None) -> None:
        seen = self.state.version
        changed = lambda: self.state.version != seen or self._publish_waiting()  # noqa: E731
        if alarm is None:
            await workflow.wait_condition(changed)
            return
        delay = (alarm.at - workflow.now()).total_seconds()
        if delay > 0:
            try:
                await workflow.wait_condition(changed, timeout=timedelta(seconds=delay))
                return  # an action arrived first; re-plan
            except TimeoutError:
                pass
        self._apply(decide(self.state, TICK, workflow.now()))

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested() or info.get_current_history_length() > self.inp.history_limit
        )

    # -- deciding and publishing ------------------------------------------------------------------

    def _apply(self, events: list[Event]) -> None:
        before = (self.state.stage, self.state.at_risk)
        for event in events:
            self.state = evolve(self.state, event)
            applied = _Applied(event, self.state)
            self.unpublished.append(applied)
            if self.inp.simulation_seed is not None:
                self.unsimulated.append(applied)
            self.refs.append(EventRef(version=event.version, event_id=event.event_id, type=event.type))
        after = (self.state.stage, self.state.at_risk)
        if events and after != before and not self.v2:
            self._show()  # before V2_PATCH: every change upserted where it happened

    def _show(self) -> None:
        """Upsert what the Temporal UI lists and shows: stage, at risk, outcome, and the memo."""
        updates = [
            search.PAIRING_STAGE.value_set(self.state.stage.value),
            search.AT_RISK.value_set(self.state.at_risk),
        ]
        if self.state.outcome is not None:
            updates.append(search.OUTCOME.value_set(self.state.outcome.value))
        workflow.upsert_search_attributes(updates)
        # Added after histories were recorded: patched, so running workflows replay unchanged. Since
        # revision 3 only the summary at the close: the stage and at-risk flag live in the search
        # attributes, the rest (sessions held, next deadline) changes more often than the stage and
        # is read live by the queries. A memo rewritten per stage showed a next deadline long past.
        if self._patched("pairing-memo") and (self.inp.revision < 3 or self.state.stage is Stage.CLOSED):
            workflow.upsert_memo(self._memo())
        self.shown = (self.state.stage, self.state.at_risk)

    def _show_changes(self) -> None:
        """Since V2_PATCH, once per flush, just before its publish, and at the end of each Update: a
        workflow task often moves a pairing twice (goals proposed and agreed, closeout and close), and
        each upsert is two events and two visibility writes, while the UI only ever sees where the
        task left the pairing."""
        if self.v2 and (self.state.stage, self.state.at_risk) != self.shown:
            if self.state.stage is Stage.CLOSED and self.inp.revision >= 4:
                return  # shown as run() returns
            self._show()

    def _memo(self) -> dict[str, object]:
        """A non-personal summary for the Temporal UI (ids, stage, counts, next deadline), as ONE memo
        entry: each entry is a payload of its own, encrypted, and the server keeps the memo with the
        workflow's state. Seven entries were 922 bytes, one is 261. Entries of that older memo are
        removed (set to None, which the codec leaves unsealed)."""
        s = self.state
        alarm = next_alarm(s)
        summary = {
            **card(self.inp)[MEMO_KEY],
            "stage": s.stage.value,
            "at_risk": s.at_risk,
            "held_sessions": s.held_sessions,
            "goals": len(s.goals),
            "next_deadline": f"{alarm.kind} at {alarm.at.isoformat()}" if alarm else None,
            "outcome": s.outcome.value if s.outcome else None,
            "ever_at_risk": s.ever_at_risk,
        }
        memo: dict[str, object] = {key: None for key in workflow.info().raw_memo if key != MEMO_KEY}
        memo[MEMO_KEY] = summary
        return memo

    def _publish_waiting(self) -> bool:
        return bool(self.unpublished) and (not self.simulates_here or self._flush_due())

    def _flush_due(self) -> bool:
        """When a simulated pairing records: nobody waits on a simulated person's event, so it is kept
        until a change someone can see (stage, at risk, paused), an operator's Update, or a full
        batch. The same events, recorded in a quarter of the activities: under time skipping each
        activity is a server round trip, and round trips bound the size of a simulated program."""
        now, then = self.state, self.published_state
        return (
            self.urgent
            or len(self.unpublished) >= SIMULATED_BATCH
            or (now.stage, now.at_risk, now.paused) != (then.stage, then.at_risk, then.paused)
            or (self.reports_by_publish and self._report_due())
        )

    def _report_due(self) -> bool:
        """Whether the program would count this pairing differently from what it was last told.

        Asked by _flush_due, so on every wake-up of the workflow's wait condition: the statuses it
        compares are built once per state and per report, not on each asking."""
        if self._counted_state is not self.state:
            self._counted_state, self._counted_now = self.state, _counted(status_of(self.state))
        if self._counted_report is not self.reported:
            self._counted_report, self._counted_last = self.reported, _counted(self.reported)
        return self._counted_now != self._counted_last

    async def _publish(self, *, force: bool = False) -> None:
        """Record every unpublished event, deliver its notices and tell the program what changed:
        one activity call per flush.

        All three halves are idempotent, so a retry after a crash redoes only what is missing.
        Simulated participants of pairings started before "simulate-in-workflow" answer in a
        separate, regular activity (their Updates must reach this workflow while it waits).
        """
        async with self.lock:
            in_workflow = self._simulates_in_workflow()
            if in_workflow:
                self._simulate_participants()
                if not (force or self._flush_due()):
                    return
            while self.unpublished:
                self._show_changes()
                batch, self.unpublished = self.unpublished, []
                self.urgent = False
                notices, state_after = self._notices(batch)
                delivery = None
                if notices:
                    delivery = DeliveryBatch(
                        workflow_id=workflow.info().workflow_id,
                        channel=self.inp.channel,
                        notices=notices,
                        simulation_seed=self.inp.simulation_seed,
                    )
                report = self._report_for(state_after)
                publish = PublishBatch(
                    record=RecordBatch.model_construct(  # of rows checked when they were decided
                        stream_id=self.state.stream_id,
                        expected_version=self.recorded_version,
                        events=[EventRow.of(applied.event) for applied in batch],
                    ),
                    delivery=delivery,
                    report=report,
                )
                # A local activity records before its workflow task is committed: if the worker dies in
                # between, the retried task decides again at a later now() (other deadlines) and the
                # store already holds the lost attempt's events, so the pairing could never record
                # again (found by tests/faults). A regular activity runs only once the decision is in
                # the history, so every retry records the very same events. Patched: histories
                # recorded with the local activity still replay.
                if self._patched("publish-after-commit"):
                    await workflow.execute_activity(
                        "publish",
                        publish,
                        result_type=PublishOutcome,
                        start_to_close_timeout=PUBLISH_ACTIVITY_TIMEOUT,
                        retry_policy=PUBLISH_RETRY,
                    )
                else:
                    await workflow.execute_local_activity(
                        "publish",
                        publish,
                        result_type=PublishOutcome,
                        start_to_close_timeout=PUBLISH_TIMEOUT,
                        retry_policy=PUBLISH_RETRY,
                    )
                self.recorded_version = batch[-1].event.version
                self.published_state = state_after
                if report is not None:
                    self.reported = report.status
                if (
                    not in_workflow
                    and delivery is not None
                    and delivery.simulation_seed is not None
                    and any(n.action is not None and n.recipient != "operator" for n in notices)
                ):
                    await workflow.execute_activity(
                        "simulate_participants",
                        delivery,
                        result_type=DeliveryReport,
                        start_to_close_timeout=PUBLISH_TIMEOUT,
                        retry_policy=PUBLISH_RETRY,
                    )

    def _simulates_in_workflow(self) -> bool:
        """Simulated people act inside the workflow (decided by the pure, seeded domain) rather than
        through an activity that sends Updates: the same decisions without the round trips (an
        activity, one Update and one more publish per answer), which is what bounded how large a
        program could be simulated. Patched: programs simulated the old way replay unchanged."""
        if self.inp.simulation_seed is None:
            return False
        if self.simulates_here is None:
            self.simulates_here = self._patched("simulate-in-workflow")
        return self.simulates_here

    def _simulate_participants(self) -> None:
        """Let the simulated recipients of every unpublished event's notices answer, until quiet.

        Each answer goes through ``decide`` exactly as an Update would: a simulated person who is
        wrong is refused (DomainError) and nothing changes. Deterministic: seed, notice and state.
        """
        assert self.inp.simulation_seed is not None
        for _ in range(SIMULATED_ROUNDS):
            pending, self.unsimulated = self.unsimulated, []
            if not pending:
                return
            for notice in [notice for applied in pending for notice in applied.notices]:
                if notice.action is None or notice.recipient == "operator":
                    continue
                for command in simulation.respond(self.inp.simulation_seed, notice, self.state):
                    with contextlib.suppress(DomainError):  # refused as an Update would be: no change
                        self._apply(decide(self.state, command, workflow.now()))

    def _report_for(self, state: PairingState) -> ProgramReport | None:
        """The report a publish carries to the program: only when something it counts changed."""
        parent = workflow.info().parent
        if not self.reports_by_publish or parent is None:
            return None
        status = status_of(state)
        if _counted(status) == _counted(self.reported):
            return None
        return ProgramReport(workflow_id=parent.workflow_id, status=status)

    async def _report(self) -> None:
        """Tell the program (by id, so it reaches its current run) when anything it counts changed.

        Since "report-by-publish" the publish activity carries the report (see _report_for): a
        signal sent from the workflow cost the pairing one more workflow task per report, a seventh
        of all its tasks. Only pairings started before that patch still signal here."""
        parent = workflow.info().parent
        if parent is None or self.reports_by_publish:
            return
        status = status_of(self.state)
        if _counted(status) == _counted(self.reported):
            return
        await workflow.get_external_workflow_handle(parent.workflow_id).signal("pairing_changed", status)
        self.reported = status

    @staticmethod
    def _notices(batch: list[_Applied]) -> tuple[list[Notice], PairingState]:
        """Notices for a batch, and the state after it: each event's notices saw the state right
        after that event (so an Update arriving mid-flush cannot skew what earlier events announce)."""
        return [notice for applied in batch for notice in applied.notices], batch[-1].state

    # -- actions (Updates) ------------------------------------------------------------------------

    def _validate(self, command: _Command) -> None:
        try:
            decide(self.state, command, workflow.now())
        except DomainError as err:
            raise ApplicationError(
                err.message, err.to_dict(), type=type(err).__name__, non_retryable=True
            ) from None

    def _act(self, command: _Command) -> ActionResult:
        try:
            events = decide(self.state, command, workflow.now())
        except DomainError as err:
            raise ApplicationError(
                err.message, err.to_dict(), type=type(err).__name__, non_retryable=True
            ) from None
        self._apply(events)
        self._show_changes()  # the caller may look at the UI as soon as the Update returns
        self.urgent = True
        return ActionResult(
            accepted=True,
            events=[e.type for e in events],
            version=self.state.version,
            stage=self.state.stage.value,
        )

    @workflow.update(name="propose_goals")
    def propose_goals(self, command: ProposeGoals) -> ActionResult:
        return self._act(command)

    @propose_goals.validator
    def _v_propose_goals(self, command: ProposeGoals) -> None:
        self._validate(command)

    @workflow.update(name="agree_goals")
    def agree_goals(self, command: AgreeGoals) -> ActionResult:
        return self._act(command)

    @agree_goals.validator
    def _v_agree_goals(self, command: AgreeGoals) -> None:
        self._validate(command)

    @workflow.update(name="log_session")
    def log_session(self, command: LogSession) -> ActionResult:
        return self._act(command)

    @log_session.validator
    def _v_log_session(self, command: LogSession) -> None:
        self._validate(command)

    @workflow.update(name="answer_fit_check")
    def answer_fit_check(self, command: AnswerFitCheck) -> ActionResult:
        return self._act(command)

    @answer_fit_check.validator
    def _v_answer_fit_check(self, command: AnswerFitCheck) -> None:
        self._validate(command)

    @workflow.update(name="submit_midpoint")
    def submit_midpoint(self, command: SubmitMidpoint) -> ActionResult:
        return self._act(command)

    @submit_midpoint.validator
    def _v_submit_midpoint(self, command: SubmitMidpoint) -> None:
        self._validate(command)

    @workflow.update(name="override_midpoint")
    def override_midpoint(self, command: OverrideMidpoint) -> ActionResult:
        return self._act(command)

    @override_midpoint.validator
    def _v_override_midpoint(self, command: OverrideMidpoint) -> None:
        self._validate(command)

    @workflow.update(name="submit_closeout")
    def submit_closeout(self, command: SubmitCloseout) -> ActionResult:
        return self._act(command)

    @submit_closeout.validator
    def _v_submit_closeout(self, command: SubmitCloseout) -> None:
        self._validate(command)

    @workflow.update(name="pause")
    def pause(self, command: Pause) -> ActionResult:
        return self._act(command)

    @pause.validator
    def _v_pause(self, command: Pause) -> None:
        self._validate(command)

    @workflow.update(name="resume")
    def resume(self, command: Resume) -> ActionResult:
        return self._act(command)

    @resume.validator
    def _v_resume(self, command: Resume) -> None:
        self._validate(command)

    @workflow.update(name="extend")
    def extend(self, command: Extend) -> ActionResult:
        return self._act(command)

    @extend.validator
    def _v_extend(self, command: Extend) -> None:
        self._validate(command)

    @workflow.update(name="withdraw")
    def withdraw(self, command: Withdraw) -> ActionResult:
        return self._act(command)

    @withdraw.validator
    def _v_withdraw(self, command: Withdraw) -> None:
        self._validate(command)

    @workflow.update(name="add_note")
    def add_note(self, command: AddNote) -> ActionResult:
        return self._act(command)

    @add_note.validator
    def _v_add_note(self, command: AddNote) -> None:
        self._validate(command)

    @workflow.update(name="rematch")
    def rematch(self, command: Rematch) -> ActionResult:
        return self._act(command)

    @rematch.validator
    def _v_rematch(self, command: Rematch) -> None:
        self._validate(command)

    # -- queries ----------------------------------------------------------------------------------

    @workflow.query(name="state")
    def query_state(self) -> PairingState:
        return self.state

    @workflow.query(name="next_deadline")
    def query_next_deadline(self) -> Alarm | None:
        return next_alarm(self.state)

    @workflow.query(name="events")
    def query_events(self) -> list[EventRef]:
        """This run's events (after a continue-as-new, earlier ones are in the event store)."""
        return list(self.refs)


UPDATE_NAMES = (  # the Updates a pairing accepts, named after the domain command types
    "propose_goals",
    "agree_goals",
    "log_session",
    "answer_fit_check",
    "submit_midpoint",
    "override_midpoint",
    "submit_closeout",
    "pause",
    "resume",
    "extend",
    "withdraw",
    "add_note",
    "rematch",
)
