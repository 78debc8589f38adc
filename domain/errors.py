"""Typed rejections: every refused command names the rule it broke and the offending value."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every rejection decided by the domain.

    ``rule`` is a stable, machine-readable code (used by the CLI, the portal and tests);
    ``message`` is the sentence shown to a person; ``value`` is what was offered.
    """

    kind = "domain"

    def __init__(self, rule: str, message: str, value: Any = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.value = value

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rule": self.rule, "message": self.message, "value": _plain(self.value)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rule={self.rule!r}, value={self.value!r})"


class RuleViolation(DomainError):
    """The command is well-formed but breaks an invariant (a rating of 7, six goals)."""

    kind = "rule"


class InvalidTransition(DomainError):
    """The command does not fit the aggregate's current stage (a check-in on a closed pairing)."""

    kind = "state"


class DuplicateSubmission(DomainError):
    """The same side already submitted this review; each side submits each review once."""

    kind = "duplicate"


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)
