"""Simulated participants: deterministic for a seed, and every behaviour drives a pairing to closed using
nothing but ``simulation.respond`` to the notices and the clock's ticks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from domain.errors import DomainError
from domain.events import Event
from domain.notifications import Notice, notices_for
from domain.pairing import (
    AgreeGoals,
    LogSession,
    Outcome,
    PairingState,
    ProposeGoals,
    SessionStatus,
    Stage,
    SubmitCloseout,
    SubmitMidpoint,
    Withdraw,
    _Command,
    evolve,
    initial_pairing,
)
from domain.simulation import DEFAULT_MIX, Behaviour, behaviour_for, leaver_for, respond
from tests.domain.pairing_helpers import Driver, terms

SEED = 2027


@dataclass
class Run:
    driver: Driver
    notices: list[Notice] = field(default_factory=list)
    commands: list[_Command] = field(default_factory=list)
    refused: list[tuple[_Command, DomainError]] = field(default_factory=list)

    @property
    def state(self) -> PairingState:
        return self.driver.state


def simulate(seed: int, pairing_id: str, max_alarms: int = 500, **overrides: object) -> Run:
    """Play a pairing the way the workflow and the simulated notification channel do: every event's
    notices (computed with the state right after the event) are answered by ``respond`` with the
    pairing's current state; refused commands change nothing; between answers, the clock ticks."""
    d = Driver(terms(**overrides) if overrides else None, pairing_id=pairing_id)
    run = Run(d)
    published = initial_pairing(pairing_id)
    delivered = 0
    for _ in range(max_alarms):
        while delivered < len(d.events):
            event: Event = d.events[delivered]
            delivered += 1
            published = evolve(published, event)
            for notice in notices_for(published, event):
                run.notices.append(notice)
                for command in respond(seed, notice, d.state):
                    run.commands.append(command)
                    try:
                        d.do(command)
                    except DomainError as err:
                        run.refused.append((command, err))
        if d.state.stage is Stage.CLOSED:
            return run
        d.step()
    raise AssertionError(f"{pairing_id} did not close within {max_alarms} alarms: {d.state.stage}")


def pairing_ids(behaviour: Behaviour, seed: int = SEED, count: int = 3) -> list[str]:
    found = [f"rm-sim.m{i}.n{i}" for i in range(400) if behaviour_for(seed, f"rm-sim.m{i}.n{i}") == behaviour]
    assert len(found) >= count, f"too few {behaviour} pairings for seed {seed}"
    return found[:count]


# -- behaviours ------------------------------------------------------------------------------------


@pytest.mark.parametrize("behaviour", sorted(DEFAULT_MIX))
def test_every_behaviour_reaches_closed(behaviour: Behaviour) -> None:
    for pairing_id in pairing_ids(behaviour):
        run = simulate(SEED, pairing_id)
        assert run.state.stage is Stage.CLOSED and run.state.outcome is not None
        assert run.commands, "the simulated people never acted"
        assert run.state.version == len(run.driver.events)


def test_diligent_pairings_agree_goals_hold_sessions_and_complete() -> None:
    for pairing_id in pairing_ids("diligent"):
        run = simulate(SEED, pairing_id)
        s = run.state
        assert s.outcome is Outcome.COMPLETED
        assert 1 <= len(s.goals) <= 5 and s.goals_agreed_at is not None
        assert s.held_sessions >= 5 and not s.ever_at_risk
        assert set(s.closeout) == {"mentor", "mentee"} and len(s.midpoint_reviews) == 2
        assert all(
            set(r.ratings) == {"mentor", "mentee"} for r in s.sessions if r.status is SessionStatus.HELD
        )
        assert run.refused == []


def test_drop_outs_withdraw_at_the_third_session() -> None:
    leavers = set()
    for pairing_id in pairing_ids("drops_out", count=8):
        run = simulate(SEED, pairing_id)
        assert run.state.outcome is Outcome.WITHDRAWN
        withdrawals = [c for c in run.commands if isinstance(c, Withdraw)]
        assert [w.side for w in withdrawals] == [leaver_for(SEED, pairing_id)]
        leavers.add(withdrawals[0].side)
        # asked about session 3, the leaver goes: nothing after session 3 was ever reported
        assert 3 <= len(run.state.sessions) <= 4
        assert all(not r.reported_by for r in run.state.sessions[3:])

    assert leavers == {"mentor", "mentee"}  # either side may leave (a mentor leaving means a rematch)


def test_mismatched_pairings_ask_for_a_new_partner_and_are_rematched_at_the_midpoint() -> None:
    for pairing_id in pairing_ids("mismatched"):
        run = simulate(SEED, pairing_id)
        assert run.state.fit_check.get("mentee") is True
        assert any(n.template == "rematch_requested" for n in run.notices)
        assert run.state.midpoint_decision is not None
        assert run.state.outcome is Outcome.REMATCHED


def test_flaky_pairings_miss_and_reschedule_but_close() -> None:
    runs = [simulate(SEED, pairing_id) for pairing_id in pairing_ids("flaky", count=6)]
    statuses = Counter(c.status for run in runs for c in run.commands if isinstance(c, LogSession))
    assert (
        statuses[SessionStatus.MISSED]
        and statuses[SessionStatus.RESCHEDULED]
        and statuses[SessionStatus.HELD]
    )
    assert all(run.state.stage is Stage.CLOSED for run in runs)
    # flaky people ignore the welcome: goals come after a reminder
    for run in runs:
        kinds = [e.type if e.type != "ReminderDue" else e.payload.reminder for e in run.driver.events]
        assert kinds.index("goals") < kinds.index("GoalsProposed")


@pytest.mark.parametrize("seed", [1, 2, SEED])
def test_simulated_people_never_send_what_the_pairing_refuses(seed: int) -> None:
    for behaviour in sorted(DEFAULT_MIX):
        for pairing_id in pairing_ids(behaviour, seed=seed, count=4):
            run = simulate(seed, pairing_id)
            assert [(c.type, e.rule) for c, e in run.refused] == []  # type: ignore[attr-defined]


def test_a_partner_waits_for_the_new_time_of_a_rescheduled_session() -> None:
    d = Driver(pairing_id=pairing_ids("diligent", count=1)[0])
    d.agree()
    d.to_session()
    request = notice("log_session", recipient="mentee", ref=1)
    d.checkin("mentor", SessionStatus.RESCHEDULED, rescheduled_to=d.now + timedelta(days=2))
    assert respond(SEED, request, d.state) == []  # the old request: nothing to report yet
    d.step()
    d.step()  # the request at the new time
    assert "checkin:1" in d.state.reminders_sent
    [held] = respond(SEED, request, d.state)
    assert isinstance(held, LogSession) and held.status is SessionStatus.HELD
    d.do(held)


def test_a_short_program_with_check_ins_before_goals_closes_too() -> None:
    for behaviour in sorted(DEFAULT_MIX):
        for pairing_id in pairing_ids(behaviour, count=1):
            run = simulate(
                SEED,
                pairing_id,
                duration="P2M",
                goal_setting_deadline="P2W",
                session_cadence="P1W",
                allow_checkin_before_goals=True,
                at_risk_after_misses=1,
            )
            assert run.state.stage is Stage.CLOSED


# -- determinism -----------------------------------------------------------------------------------


def test_the_same_seed_replays_the_same_pairing() -> None:
    for behaviour in sorted(DEFAULT_MIX):
        pairing_id = pairing_ids(behaviour, count=1)[0]
        first, second = simulate(SEED, pairing_id), simulate(SEED, pairing_id)
        assert first.driver.events == second.driver.events
        assert first.commands == second.commands


def test_respond_is_a_pure_function_of_seed_notice_and_state() -> None:
    run = simulate(SEED, pairing_ids("flaky", count=1)[0])
    replayed = initial_pairing(run.state.pairing_id)
    for event in run.driver.events[:40]:
        replayed = evolve(replayed, event)
        for notice in notices_for(replayed, event):
            assert respond(SEED, notice, replayed) == respond(SEED, notice, replayed)


def test_another_seed_gives_another_behaviour_mix() -> None:
    ids = [f"rm-sim.m{i}.n{i}" for i in range(400)]
    mixes = {seed: Counter(behaviour_for(seed, p) for p in ids) for seed in (1, 2, 3)}
    assert mixes[1] != mixes[2] != mixes[3]
    assert [behaviour_for(1, p) for p in ids] != [behaviour_for(2, p) for p in ids]
    for mix in mixes.values():
        assert set(mix) == set(DEFAULT_MIX)
        assert 0.5 <= mix["diligent"] / len(ids) <= 0.7  # the default mix is 60 % diligent


def test_another_seed_plays_the_same_pairing_differently() -> None:
    pairing_id = pairing_ids("flaky", seed=1, count=1)[0]
    runs = [simulate(seed, pairing_id) for seed in (1, 2)]
    assert runs[0].driver.events != runs[1].driver.events


def test_a_custom_mix() -> None:
    assert {behaviour_for(s, "p", {"flaky": 1.0}) for s in range(20)} == {"flaky"}
    only_two: dict[Behaviour, float] = {"diligent": 1.0, "mismatched": 1.0}
    assert {behaviour_for(s, f"p{s}", only_two) for s in range(60)} == {"diligent", "mismatched"}
    assert behaviour_for(5, "p", {}) == behaviour_for(5, "p")  # empty mix: the default


# -- what a simulated person does not do ----------------------------------------------------------------


def notice(
    action: str | None, recipient: str = "mentor", template: str = "t", ref: int | None = None
) -> Notice:
    return Notice(
        key="k",
        program_id="rm-test",
        pairing_id="x",
        recipient=recipient,
        template=template,  # type: ignore[arg-type]
        action=action,
        ref=ref,
        summary="s",
    )  # type: ignore[arg-type]


def test_the_operator_and_informational_notices_get_no_answer() -> None:
    d = Driver()
    assert respond(SEED, notice("propose_goals", recipient="operator"), d.state) == []
    assert respond(SEED, notice(None), d.state) == []


def test_closed_or_paused_pairings_get_no_answer() -> None:
    d = Driver()
    paused = d.state.model_copy(update={"paused_at": d.now})
    closed = d.state.model_copy(update={"stage": Stage.CLOSED})
    for state in (paused, closed):
        assert respond(SEED, notice("propose_goals"), state) == []


def test_goals_are_proposed_once_from_the_library() -> None:
    d = Driver(pairing_id=pairing_ids("diligent", count=1)[0])
    [command] = respond(SEED, notice("propose_goals", template="welcome"), d.state)
    assert isinstance(command, ProposeGoals) and 1 <= len(command.goals) <= 3
    assert len({g.key() for g in command.goals}) == len(command.goals)
    d.do(command)
    assert respond(SEED, notice("propose_goals", template="goals_reminder"), d.state) == []


def test_agreement_waits_for_both_proposals_and_is_not_repeated() -> None:
    d = Driver(pairing_id=pairing_ids("diligent", count=1)[0])
    assert respond(SEED, notice("agree_goals"), d.state) == []
    for side in ("mentor", "mentee"):
        d.do(respond(SEED, notice("propose_goals", recipient=side), d.state)[0])
    [agree] = respond(SEED, notice("agree_goals"), d.state)
    assert isinstance(agree, AgreeGoals) and len(agree.goals) <= 5
    d.do(agree)
    assert respond(SEED, notice("agree_goals"), d.state) == []


def test_check_ins_need_a_known_session_not_yet_reported() -> None:
    d = Driver(pairing_id=pairing_ids("diligent", count=1)[0])
    d.agree()
    assert respond(SEED, notice("log_session", ref=9), d.state) == []
    d.hold_session()
    assert respond(SEED, notice("log_session", recipient="mentor", ref=1), d.state) == []
    [rating] = respond(SEED, notice("log_session", recipient="mentee", ref=1), d.state)
    assert isinstance(rating, LogSession) and rating.status is SessionStatus.HELD and rating.session == 1


def test_a_partner_confirms_a_reported_miss() -> None:
    d = Driver(pairing_id=pairing_ids("diligent", count=1)[0])
    d.agree()
    d.to_session()
    d.checkin("mentor", SessionStatus.MISSED)
    [confirm] = respond(SEED, notice("log_session", recipient="mentee", ref=1), d.state)
    assert isinstance(confirm, LogSession) and confirm.status is SessionStatus.MISSED


def test_midpoint_and_closeout_answers_fit_the_goals() -> None:
    d = Driver(pairing_id=pairing_ids("diligent", count=1)[0])
    d.agree()
    [midpoint] = respond(SEED, notice("midpoint"), d.state)
    assert isinstance(midpoint, SubmitMidpoint) and len(midpoint.progress) == len(d.state.goals)
    assert 4 <= midpoint.relationship <= 5
    [closeout] = respond(SEED, notice("closeout"), d.state)
    assert isinstance(closeout, SubmitCloseout) and len(closeout.attainment) == len(d.state.goals)
    answered = d.state.model_copy(update={"closeout": {"mentor": object()}})
    assert respond(SEED, notice("closeout"), answered) == []


def test_an_unknown_action_gets_no_answer() -> None:
    d = Driver()
    bogus = notice("propose_goals").model_copy(update={"action": "dance"})
    assert respond(SEED, bogus, d.state) == []
