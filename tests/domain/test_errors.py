"""Typed rejections: kind, rule, message and value, and their plain-data form for the portal and CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from domain.durations import IsoDuration
from domain.errors import DomainError, DuplicateSubmission, InvalidTransition, RuleViolation


@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (DomainError, "domain"),
        (RuleViolation, "rule"),
        (InvalidTransition, "state"),
        (DuplicateSubmission, "duplicate"),
    ],
)
def test_each_error_type_has_its_kind(cls: type[DomainError], kind: str) -> None:
    err = cls("rating-range", "ratings go from 1 to 5, not 7", 7)
    assert isinstance(err, DomainError) and isinstance(err, Exception)
    assert (err.kind, err.rule, err.message, err.value) == (
        kind,
        "rating-range",
        "ratings go from 1 to 5, not 7",
        7,
    )
    assert str(err) == "ratings go from 1 to 5, not 7"
    assert err.to_dict() == {"kind": kind, "rule": "rating-range", "message": err.message, "value": 7}
    assert repr(err) == f"{cls.__name__}(rule='rating-range', value=7)"


def test_value_defaults_to_none() -> None:
    assert RuleViolation("r", "m").value is None
    assert RuleViolation("r", "m").to_dict()["value"] is None


def test_to_dict_turns_any_value_into_json_data() -> None:
    when = datetime(2027, 1, 1, tzinfo=UTC)
    value = {"goals": ("a", "b"), 3: [IsoDuration(weeks=2), when], "ok": True, "x": 1.5, "none": None}
    plain = RuleViolation("r", "m", value).to_dict()["value"]
    assert plain == {"goals": ["a", "b"], "3": ["P2W", str(when)], "ok": True, "x": 1.5, "none": None}
    json.dumps(plain)


def test_errors_can_be_raised_and_caught_by_base_type() -> None:
    with pytest.raises(DomainError) as info:
        raise DuplicateSubmission("checkin-duplicate", "already", 2)
    assert isinstance(info.value, DuplicateSubmission) and not isinstance(info.value, RuleViolation)
