"""The report's three forms: a self-contained HTML file with charts, JSON, and CSV safe in spreadsheets."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.metrics import METRICS
from eventstore import EventStore
from tandem.report import render_html, to_csv, to_dict
from tandem.report.export import FORMULA_STARTS, neutralise
from tandem.report.metrics import ImpactReport
from tandem.report.store import report_for
from tests.report.fixture import PRIVATE, TOPIC, Built, build_program, fixture_program, fixture_scripts

NOW = datetime(2028, 2, 3, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}svg"
CHARTS = ("chart-sessions", "chart-funnel", "chart-attainment", "chart-satisfaction")


@pytest.fixture
async def built(es: EventStore) -> Built:
    program = fixture_program()
    await program.append(es)
    await build_program("rm-baseline", "baseline", fixture_scripts()[:5]).append(es)
    return program


@pytest.fixture
async def report(es: EventStore, built: Built) -> ImpactReport:
    return await report_for(es.pool, "rm-fixture", baseline_id="rm-baseline", now=NOW)


def _tree(html: str) -> ET.Element:
    assert html.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(html.split("\n", 1)[1])  # the markup is well-formed XML, not only HTML


class _Balance(HTMLParser):
    """Checks that every opened element is closed in order (self-closed and void elements excepted)."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})  # HTML void elements, written unclosed

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


async def test_html_parses_and_shows_every_metric_with_definition_value_target_and_verdict(
    report: ImpactReport,
) -> None:
    html = render_html(report)
    checker = _Balance()
    checker.feed(html)
    checker.close()
    assert not checker.errors and not checker.stack
    root = _tree(html)
    rows = {tr.get("data-metric"): tr for tr in root.iter("tr") if tr.get("data-metric")}
    assert set(rows) == set(METRICS)
    for name, metric in METRICS.items():
        text = "".join(rows[name].itertext())
        assert metric.definition in text, name
    completion = "".join(rows["session_completion"].itertext())
    assert "81.0 %" in completion and "≥ 80.0 %" in completion and "met" in completion
    assert "88.9 %" in completion  # the baseline: 16 / 18
    nps = "".join(rows["would_recommend_nps"].itertext())
    assert "+0" in nps and "not met" in nps


async def test_html_has_the_four_required_charts_and_more(report: ImpactReport) -> None:
    root = _tree(render_html(report))
    figures = {f.get("id"): f for f in root.iter("figure")}
    for chart in (*CHARTS, "chart-recommend", "chart-retention"):
        svg = figures[chart].find(f".//{SVG}")
        assert svg is not None, chart
        assert svg.find("{http://www.w3.org/2000/svg}title") is not None  # named for screen readers
        assert len(svg.findall(".//{http://www.w3.org/2000/svg}rect")) >= 3, chart
    sessions = "".join(figures["chart-sessions"].itertext())
    assert "2027-01" in sessions and "2027-03" in sessions


async def test_html_is_self_contained(report: ImpactReport) -> None:
    html = render_html(report)
    assert "<script" not in html.lower()
    assert not re.search(r"\b(src|href)\s*=", html, re.IGNORECASE)
    assert "@import" not in html and "url(" not in html
    urls = set(re.findall(r"https?://[^\"' )]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched


async def test_no_personal_data_or_private_text_in_any_form(report: ImpactReport, built: Built) -> None:
    forms = [render_html(report), json.dumps(to_dict(report), ensure_ascii=False), to_csv(report)]
    for text in forms:
        lowered = text.lower()
        assert PRIVATE.lower() not in lowered and TOPIC.lower() not in lowered
        for person in built.people:
            assert person.email.lower() not in lowered
            assert person.name.lower() not in lowered
        for part in ("zelda", "quinn", "margaret", "hughes"):  # pairing 1's people; "zelda" is in takeaways
            assert part not in lowered
        assert "feedback culture is different" not in lowered  # takeaway text itself


async def test_withheld_figures_say_so_in_the_html(es: EventStore) -> None:
    scripts = fixture_scripts()
    await build_program("rm-two", "two", [scripts[0], scripts[1]]).append(es)
    report = await report_for(es.pool, "rm-two", now=NOW)
    root = _tree(render_html(report))
    rows = {tr.get("data-metric"): "".join(tr.itertext()) for tr in root.iter("tr") if tr.get("data-metric")}
    assert "withheld (too few responses)" in rows["goal_attainment"]
    assert "not yet measurable" in rows["retention_3m"]
    attainment = next(f for f in root.iter("figure") if f.get("id") == "chart-attainment")
    assert "Withheld: 4 responses" in "".join(attainment.itertext())


async def test_json_is_the_whole_report(report: ImpactReport) -> None:
    data = json.loads(json.dumps(to_dict(report)))
    assert data["schema"] == "tandem.impact-report/1"
    assert [m["name"] for m in data["metrics"]] == list(METRICS)
    assert data["baseline_program"]["program_id"] == "rm-baseline"
    assert data["program"]["name"] == "=SUM(A1) pilot"  # JSON is data: no neutralising needed
    assert {"sessions_by_month", "attainment_bins", "satisfaction", "funnel", "retention"} <= set(
        data["charts"]
    )


async def test_csv_neutralises_formulas_but_keeps_numbers(report: ImpactReport) -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    name = next(r for r in rows if r["key"] == "name")
    assert name["value"] == "'=SUM(A1) pilot"
    metrics = {r["key"]: r for r in rows if r["section"] == "metric"}
    assert set(metrics) == set(METRICS)
    assert float(metrics["session_completion"]["value"]) == pytest.approx(17 / 21)
    assert metrics["session_completion"]["verdict"] == "met"
    assert float(metrics["time_to_agreed_goals_days"]["delta"]) == pytest.approx(5 - 9)  # a number, unquoted
    for row in rows:
        for cell in row.values():
            if cell and cell.startswith(FORMULA_STARTS):
                float(cell)  # only numbers may start like a formula


@given(st.text())
def test_a_neutralised_text_cell_never_starts_like_a_formula(text: str) -> None:
    cell = neutralise(text)
    assert not cell.startswith(FORMULA_STARTS)
    assert cell.endswith(text)


def test_numbers_are_not_neutralised() -> None:
    assert neutralise(-25.0) == -25.0 and neutralise(3) == 3 and neutralise(None) is None
    assert neutralise("-25") == "'-25"  # text that looks like a number is still text
