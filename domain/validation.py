"""Located problems in input files, and the few shape rules the file parsers share.

Program files and rosters are validated in full before anything starts: a parser collects every
problem it can find, each with file, line and column (1-based), and raises them together as one
:class:`InvalidInput`, so the operator fixes a file in one pass instead of one error per run.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

EMAIL_PATTERN = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
"""Deliberately simple: catches typos and swapped columns, not every RFC 5322 corner case."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input file; ``line`` and ``column`` are 1-based, as editors show them."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class InvalidInput(Exception):
    """Every problem found in one or more input files, sorted by (file, line, column).

    ``str()`` gives one ``FILE:LINE:COL: message`` per line, the format editors and CI logs link.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(sorted(set(problems)))
        super().__init__("\n".join(str(p) for p in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


def is_email(text: str) -> bool:
    """True when ``text`` looks like one email address (see :data:`EMAIL_PATTERN`)."""
    return EMAIL_PATTERN.match(text) is not None


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or ``""``: appended to "unknown ..." messages."""
    choices = list(dict.fromkeys(options))
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if matches:
        return f" (did you mean {matches[0]!r}?)"
    # Then ignoring case, then against the parts of compound names ('cadense' -> 'session_cadence').
    lowered: dict[str, str] = {}
    parts: dict[str, str] = {}
    for choice in choices:
        lowered.setdefault(choice.lower(), choice)
        for part in re.split(r"[_/]", choice.lower()):
            if len(part) >= 3:
                parts.setdefault(part, choice)
    for table, cutoff in ((lowered, 0.6), (parts, 0.75)):
        found = difflib.get_close_matches(word.lower(), list(table), n=1, cutoff=cutoff)
        if found:
            return f" (did you mean {table[found[0]]!r}?)"
    return ""
