"""The lazy line splitter under the CSV parsers: the same lines as io.StringIO, without its copy."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from domain.csv_input import lines


@given(st.text(alphabet=st.sampled_from(["a", ",", '"', "\r", "\n", "\x0b", "\x85", "\u2028", "é"])))
def test_lines_are_those_of_stringio(text: str) -> None:
    assert list(lines(text)) == list(io.StringIO(text, newline=""))


@given(st.text())
def test_lines_of_any_text_rebuild_it(text: str) -> None:
    assert "".join(lines(text)) == text
