"""Update payloads from the outside (the participant portal, the CLI, anyone with a client) are hostile
until parsed: any JSON becomes either a command or a pydantic error that names the field, and a
parsed command is either decided or refused with a typed DomainError. Never anything else."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from domain.errors import DomainError
from domain.pairing import (
    AddNote,
    AgreeGoals,
    AnswerFitCheck,
    Extend,
    LogSession,
    OverrideMidpoint,
    PairingState,
    Pause,
    ProposeGoals,
    Rematch,
    Resume,
    SubmitCloseout,
    SubmitMidpoint,
    Withdraw,
    decide,
)
from tests.domain.pairing_helpers import GOALS, Driver
from workflows.pairing import UPDATE_NAMES

# One valid payload per Update, as a client would send it (JSON); the fuzzers mutate these.
VALID: dict[str, tuple[type[BaseModel], dict[str, Any]]] = {
    "propose_goals": (ProposeGoals, {"side": "mentor", "goals": [{"title": "Use AI", "signal": "weekly"}]}),
    "agree_goals": (AgreeGoals, {"side": "mentee", "goals": [{"title": "Use AI", "signal": "weekly"}]}),
    "log_session": (
        LogSession,
        {"side": "mentor", "status": "held", "rating": 4, "topics": ["genai"], "private_note": "good"},
    ),
    "answer_fit_check": (AnswerFitCheck, {"side": "mentee", "wants_new_partner": False}),
    "submit_midpoint": (
        SubmitMidpoint,
        {"side": "mentor", "relationship": 4, "psychological_safety": 5, "progress": [50, 20]},
    ),
    "override_midpoint": (OverrideMidpoint, {"decision": "continue", "reason": "both happy"}),
    "submit_closeout": (
        SubmitCloseout,
        {"side": "mentee", "attainment": [80, 60], "would_recommend": 9, "satisfaction": 5},
    ),
    "pause": (Pause, {"reason": "parental leave"}),
    "resume": (Resume, {}),
    "extend": (Extend, {"by": "P1M"}),
    "withdraw": (Withdraw, {"side": "mentor", "reason": "left the company"}),
    "add_note": (AddNote, {"author": "operator", "text": "rescheduled twice"}),
    "rematch": (Rematch, {"reason": "no chemistry"}),
}


def test_every_update_has_a_sample() -> None:
    assert set(VALID) == set(UPDATE_NAMES)
    for model, payload in VALID.values():
        model.model_validate_json(json.dumps(payload))


def _states() -> list[tuple[PairingState, datetime]]:
    goal_setting = Driver()
    sessions = Driver()
    sessions.agree(GOALS)
    return [
        (goal_setting.state, goal_setting.now + timedelta(days=1)),
        (sessions.state, sessions.now + timedelta(days=8)),
    ]


STATES = _states()

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\x00", "a\x1bb", "\x7f", "line\nbreak", "\u202e", "x" * 2001, "y" * 201, " ", ""]),
)


@st.composite
def payloads(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(sorted(VALID)))
    payload: Any = dict(VALID[name][1])
    how = draw(st.sampled_from(["replace", "text", "extra", "drop", "anything"]))
    keys = sorted(payload) or ["type"]
    if how == "replace":
        payload[draw(st.sampled_from(keys))] = draw(json_values)
    elif how == "text":
        payload[draw(st.sampled_from(keys))] = draw(hostile_text)
    elif how == "extra":
        payload[draw(st.text(max_size=10))] = draw(json_values)
    elif how == "drop" and payload:
        payload.pop(draw(st.sampled_from(keys)))
    elif how == "anything":
        payload = draw(json_values)
    return name, payload


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_any_payload_is_a_command_or_a_located_error(case: tuple[str, Any]) -> None:
    name, payload = case
    model = VALID[name][0]
    try:
        command = model.model_validate_json(json.dumps(payload))
    except ValidationError as error:
        for problem in error.errors():
            assert problem["msg"]
            # a field's problem names the field; only a payload that is not an object has no location
            assert problem["loc"] or not isinstance(payload, dict)
        return
    for state, now in STATES:
        try:
            decide(state, command, now)  # type: ignore[arg-type]
        except DomainError as refused:
            assert refused.message


@pytest.mark.parametrize(
    ("name", "field", "value", "expected"),
    [
        ("add_note", "text", "call me\x07now", "control character U+0007 at character 8"),
        ("add_note", "text", "x" * 2001, "at most 2000 characters"),
        ("log_session", "private_note", "a\x00b", "control character U+0000"),
        ("log_session", "topics", ["gen\x1bai"], "control character U+001B"),
        ("log_session", "topics", ["t" * 101], "at most 100 characters"),
        ("override_midpoint", "reason", "two\nlines", "control character U+000A"),
        ("withdraw", "reason", "r" * 501, "at most 500 characters"),
        ("pause", "reason", "\x7f", "control character U+007F"),
        ("propose_goals", "goals", [{"title": "t\x1b", "signal": "s"}], "goal 1 title contains control"),
        ("agree_goals", "goals", [{"title": "t", "signal": "x" * 301}], "at most 300 characters"),
    ],
)
def test_control_characters_and_over_long_text_are_refused_with_the_field(
    name: str, field: str, value: Any, expected: str
) -> None:
    model, valid = VALID[name]
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(json.dumps({**valid, field: value}))
    (problem,) = caught.value.errors()
    assert problem["loc"][0] == field
    assert expected in problem["msg"]


def test_notes_may_span_lines() -> None:
    note = AddNote.model_validate_json(json.dumps({"author": "mentor", "text": "first\r\n\tsecond"}))
    assert note.text == "first\r\n\tsecond"
