"""Simulated participants: seeded behaviours that answer notices the way people would.

Used by ``starter.py simulate`` and the demo. Pure and deterministic: the same seed, pairing and
notice always give the same answer, so a simulated program replays identically.
"""

from __future__ import annotations

import functools
import hashlib
import random
from datetime import timedelta
from typing import Literal

from domain.notifications import Notice
from domain.pairing import (
    AgreeGoals,
    AnswerFitCheck,
    Goal,
    LogSession,
    PairingState,
    ProposeGoals,
    SessionStatus,
    Side,
    Stage,
    SubmitCloseout,
    SubmitMidpoint,
    Withdraw,
    _Command,
)

Behaviour = Literal["diligent", "flaky", "drops_out", "mismatched"]
DEFAULT_MIX: dict[Behaviour, float] = {"diligent": 0.6, "flaky": 0.2, "drops_out": 0.1, "mismatched": 0.1}

_GOAL_LIBRARY = (
    ("Use a generative-AI assistant in weekly planning", "used in 4 consecutive weekly plans"),
    ("Understand how Gen Z colleagues want feedback", "runs 2 feedback conversations in the new format"),
    ("Publish on an internal social channel", "3 posts with at least 20 reactions"),
    ("Run a meeting without taking control", "the mentor rates facilitation 4/5 or better"),
    ("Learn the customer app end to end", "completes 5 real journeys and lists 3 fixes"),
    ("Sponsor a junior-led initiative", "initiative presented to the leadership team"),
    ("Try a hybrid-work ritual with the team", "ritual kept for 6 weeks"),
)


def _rng(seed: int, *parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(str(p) for p in (seed, *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def behaviour_for(seed: int, pairing_id: str, mix: dict[Behaviour, float] | None = None) -> Behaviour:
    if not mix:  # None or empty: the default mix
        return _default_behaviour(seed, pairing_id)
    return _behaviour(seed, pairing_id, mix)


@functools.lru_cache(maxsize=4096)
def _default_behaviour(seed: int, pairing_id: str) -> Behaviour:
    """Cached: a simulated pairing asks on every notice, and seeding a generator is most of it."""
    return _behaviour(seed, pairing_id, DEFAULT_MIX)


def _behaviour(seed: int, pairing_id: str, weights: dict[Behaviour, float]) -> Behaviour:
    names = sorted(weights)
    choice = _rng(seed, "behaviour", pairing_id).choices(names, weights=[weights[n] for n in names])[0]
    return choice


def _goals_for(seed: int, pairing_id: str, side: Side) -> tuple[Goal, ...]:
    rng = _rng(seed, "goals", pairing_id, side)
    picks = rng.sample(_GOAL_LIBRARY, k=rng.randint(1, 3))
    return tuple(Goal(title=t, signal=s) for t, s in picks)


def _union(state: PairingState) -> tuple[Goal, ...]:
    seen: dict[tuple[str, str], Goal] = {}
    for side in ("mentor", "mentee"):
        for goal in state.proposed_goals.get(side, ()):
            seen.setdefault(goal.key(), goal)
    return tuple(seen.values())[:5]


def respond(seed: int, notice: Notice, state: PairingState) -> list[_Command]:
    """What the simulated ``notice.recipient`` does on receiving ``notice`` (possibly nothing)."""
    if notice.recipient == "operator" or notice.action is None or state.stage is Stage.CLOSED or state.paused:
        return []
    side: Side = notice.recipient
    behaviour = behaviour_for(seed, state.pairing_id)
    rng = _rng(seed, notice.key)
    match notice.action:
        case "propose_goals":
            if side in state.proposed_goals or (behaviour == "flaky" and notice.template == "welcome"):
                return []
            return [ProposeGoals(side=side, goals=_goals_for(seed, state.pairing_id, side))]
        case "agree_goals":
            goals = _union(state)
            if not goals or len(state.proposed_goals) < 2:
                return []
            if [g.key() for g in state.accepted_goals.get(side, ())] == [g.key() for g in goals]:
                return []
            return [AgreeGoals(side=side, goals=goals)]
        case "log_session":
            return _check_in(behaviour, rng, side, notice, state, leaver_for(seed, state.pairing_id))
        case "fit_check":
            if behaviour == "mismatched" and side == "mentee":
                return [AnswerFitCheck(side=side, wants_new_partner=True)]
            return [AnswerFitCheck(side=side, wants_new_partner=False)] if rng.random() < 0.7 else []
        case "midpoint":
            low, high = {"diligent": (4, 5), "flaky": (3, 4), "drops_out": (3, 5), "mismatched": (1, 2)}[
                behaviour
            ]
            progress = tuple(rng.randint(20, 90) for _ in state.goals)
            return [
                SubmitMidpoint(
                    side=side,
                    relationship=rng.randint(low, high),
                    psychological_safety=rng.randint(max(1, low - 1), high),
                    progress=progress,
                )
            ]
        case "closeout":
            if side in state.closeout:
                return []
            low, high = (60, 100) if behaviour == "diligent" else (20, 80)
            return [
                SubmitCloseout(
                    side=side,
                    attainment=tuple(rng.randint(low, high) for _ in state.goals),
                    would_recommend=rng.randint(7, 10) if behaviour == "diligent" else rng.randint(3, 9),
                    satisfaction=rng.randint(4, 5) if behaviour == "diligent" else rng.randint(2, 4),
                    takeaways="simulated",
                )
            ]
    return []


@functools.lru_cache(maxsize=4096)  # asked on every check-in of a drop-out pairing
def leaver_for(seed: int, pairing_id: str) -> Side:
    """Who leaves a drop-out pairing: either side, fixed per pairing and seed."""
    return "mentor" if _rng(seed, "leaver", pairing_id).random() < 0.5 else "mentee"


def _check_in(
    behaviour: Behaviour, rng: random.Random, side: Side, notice: Notice, state: PairingState, leaver: Side
) -> list[_Command]:
    number = notice.ref
    record = next((s for s in state.sessions if s.number == number), None)
    if record is None or side in record.reported_by:
        return []
    if record.status is SessionStatus.RESCHEDULED and f"checkin:{number}" not in state.reminders_sent:
        return []  # the partner moved it after this request: wait for the request at the new time
    if behaviour == "drops_out" and number is not None and number >= 3 and side == leaver:
        return [Withdraw(side=side, reason="simulated: left the program")]
    if record.status is SessionStatus.HELD:  # the partner already reported it held: add our rating
        return [LogSession(side=side, session=number, status=SessionStatus.HELD, rating=rng.randint(3, 5))]
    if record.status is SessionStatus.MISSED:
        return [LogSession(side=side, session=number, status=SessionStatus.MISSED)]
    roll = rng.random()
    if behaviour == "flaky":
        if roll < 0.35:
            return [LogSession(side=side, session=number, status=SessionStatus.MISSED)]
        if roll < 0.45 and state.ends_at is not None and record.at + timedelta(days=2) < state.ends_at:
            return [
                LogSession(
                    side=side,
                    session=number,
                    status=SessionStatus.RESCHEDULED,
                    rescheduled_to=record.at + timedelta(days=2),
                )
            ]
        if roll < 0.6:
            return []  # forgets: the check-in window closes and the session counts as missed
    rating = rng.randint(2, 3) if behaviour == "mismatched" else rng.randint(4, 5)
    return [
        LogSession(side=side, session=number, status=SessionStatus.HELD, rating=rating, topics=("simulated",))
    ]
