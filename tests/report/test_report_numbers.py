"""Every number of the impact report, checked against arithmetic done by hand on the fixture program.

The fixture (tests/report/fixture.py) is eight pairings that start on 2027-01-04, built with the real
domain and appended to a fresh event store; the report is built from the read models, as the CLI does.

    pairing  goals agreed  sessions (H held, M missed)  end
    1        day 2         H H H H                       completed, closeout both sides
    2        day 5         H H M H                       completed, closeout both sides
    3        day 9         H H H H                       completed, closeout both sides
    4        day 14        H H H                         completed, closeout both sides
    5        day 20        M H H                         completed, closeout both sides
    6        day 3         H, then the mentee withdraws  withdrawn
    7        never         (goal deadline passes)        ended early
    8        day 4         M M (at risk)                 rematched at the midpoint
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from eventstore import EventStore
from tandem.report import read_models, to_dict
from tandem.report.metrics import ImpactReport
from tandem.report.store import report_for
from tests.report.fixture import Closeout, Script, build_program, fixture_program, fixture_scripts

NOW = datetime(2028, 2, 3, tzinfo=UTC)


async def _report(store: EventStore, program_id: str = "rm-fixture", **kwargs: Any) -> ImpactReport:
    return await report_for(store.pool, program_id, now=NOW, **kwargs)


@pytest.fixture
async def report(es: EventStore) -> ImpactReport:
    await fixture_program().append(es)
    return await _report(es)


def value(report: ImpactReport, name: str) -> float | None:
    return report.metric(name).value


async def test_session_completion(report: ImpactReport) -> None:
    held = 4 + 3 + 4 + 3 + 2 + 1 + 0 + 0  # pairings 1..8
    missed = 0 + 1 + 0 + 0 + 1 + 0 + 0 + 2
    assert (held, missed) == (17, 4)
    m = report.metric("session_completion")
    assert m.value == pytest.approx(17 / 21) and m.n == 21 and m.status == "measured"
    assert m.detail == "17 held of 21 due (4 missed)"
    assert m.met is True  # target: at least 0.8; 17/21 = 0.8095


async def test_time_to_agreed_goals(report: ImpactReport) -> None:
    days = sorted([2, 5, 9, 14, 20, 3, 4])  # pairing 7 never agreed: not in the median
    assert days[len(days) // 2] == 5
    m = report.metric("time_to_agreed_goals_days")
    assert m.value == pytest.approx(5.0) and m.n == 7 and m.met is True  # target: at most 7 days


async def test_goal_attainment(report: ImpactReport) -> None:
    per_pairing = [
        (90, 80, 80, 70),
        (70, 60, 60, 50),
        (50, 40, 40, 30),
        (100, 100, 100, 90),
        (30, 20, 20, 20),
    ]
    values = [v for pairing in per_pairing for v in pairing]  # mentor's two goals, then the mentee's
    assert sum(values) == 1200 and len(values) == 20
    m = report.metric("goal_attainment")
    assert m.value == pytest.approx(1200 / 20 / 100) and m.n == 10  # 10 closeout responses
    assert m.met is False  # target: at least 0.7


async def test_midpoint_health(report: ImpactReport) -> None:
    per_pairing = [(5, 4), (4, 4), (3, 4), (5, 5), (3, 3), (2, 3)]  # pairings 1-5 and 8: mentor, mentee
    relationship = [v for pairing in per_pairing for v in pairing]
    assert sum(relationship) == 45
    m = report.metric("midpoint_health")
    assert m.value == pytest.approx(45 / 12) and m.n == 12 and m.met is True  # target: at least 3.5


async def test_satisfaction_by_side(report: ImpactReport) -> None:
    mentors, mentees = [5, 4, 3, 5, 2], [5, 4, 3, 5, 2]
    assert report.metric("satisfaction_mentor").value == pytest.approx(sum(mentors) / 5)  # 3.8
    assert report.metric("satisfaction_mentor").met is None  # no target
    assert report.metric("satisfaction_mentee").value == pytest.approx(sum(mentees) / 5)
    assert report.metric("satisfaction_mentee").met is False  # target: at least 4
    assert report.charts.satisfaction == {"mentor": (0, 1, 1, 1, 2), "mentee": (0, 1, 1, 1, 2)}


async def test_would_recommend_nps(report: ImpactReport) -> None:
    mentors, mentees = [10, 8, 6, 10, 3], [9, 7, 5, 10, 6]
    answers = [*mentors, *mentees]
    promoters = sum(1 for a in answers if a >= 9)
    detractors = sum(1 for a in answers if a <= 6)
    assert (promoters, detractors) == (4, 4)
    m = report.metric("would_recommend_nps")
    assert m.value == pytest.approx(100 * (4 - 4) / 10) and m.n == 10 and m.met is False  # target >= 30
    assert report.charts.nps_split == (4, 2, 4)


async def test_at_risk_and_early_end_rates(report: ImpactReport) -> None:
    # at risk: 7 (goal deadline passed) and 8 (two misses in a row), of 8 started
    assert report.metric("at_risk_rate").value == pytest.approx(2 / 8)
    assert report.metric("at_risk_rate").met is False  # target: at most 0.15
    # early: 6 withdrawn, 7 ended early, 8 rematched, of 8 closed
    assert report.metric("early_end_rate").value == pytest.approx(3 / 8)
    assert report.metric("early_end_rate").met is True  # target: at most 0.5
    assert report.charts.outcomes == (
        ("completed", 5),
        ("ended_early", 1),
        ("withdrawn", 1),
        ("rematched", 1),
    )


async def test_retention_at_3_6_12_months(report: ImpactReport) -> None:
    # 16 participants; program start 2027-01-04; HR extract as of 2028-02-01
    # leavers: 2027-03-01 (before 3m: 2027-04-04), 2027-05-15 (before 6m: 2027-07-04),
    # 2027-10-01 (before 12m: 2028-01-04), 2028-01-20 (after 12m: still counted retained)
    assert value(report, "retention_3m") == pytest.approx(15 / 16)
    assert value(report, "retention_6m") == pytest.approx(14 / 16)
    assert value(report, "retention_12m") == pytest.approx(13 / 16)
    assert report.metric("retention_12m").met is False  # target: at least 0.9
    assert report.metric("retention_12m").detail == (
        "13 of 16 participants still employed on 2028-01-04 (3 left)"
    )
    assert report.program.hr_as_of == date(2028, 2, 1)


async def test_charts(report: ImpactReport) -> None:
    # held/missed by month of the check-in (see the dates in the module docstring of fixture.py):
    # January: held 2 (p1) + 2 (p2) + 1 (p3) + 1 (p4) + 1 (p6) = 7, missed 1 (p5) + 2 (p8) = 3
    # February: held 2 (p1) + 1 (p2) + 2 (p3) + 2 (p4) + 2 (p5) = 9, missed 1 (p2); March: held 1 (p3)
    assert report.charts.sessions_by_month == (("2027-01", 7, 3), ("2027-02", 9, 1), ("2027-03", 1, 0))
    # the 20 goal ratings of test_goal_attainment in bands
    assert report.charts.attainment_bins == (
        ("0–19 %", 0),
        ("20–39 %", 5),
        ("40–59 %", 4),
        ("60–79 %", 4),
        ("80–100 %", 7),
    )
    # a funnel counts a pairing at a step when it passed every step before: 7 never agreed goals,
    # 8 never held a session, 6 withdrew before the midpoint
    assert [n for _, _, n in report.charts.funnel] == [8, 8, 7, 6, 5, 5, 5]
    assert report.charts.retention == ((3, 15 / 16, None), (6, 14 / 16, None), (12, 13 / 16, None))


async def test_anonymous_feedback(report: ImpactReport, es: EventStore) -> None:
    f = report.feedback
    per_pairing = [(5, 4), (4, 5), (3, 3), (4, 5), (4, 3), (3, 2)]  # pairings 1-5 and 8
    safety = [v for pairing in per_pairing for v in pairing]
    assert f.psychological_safety == pytest.approx(sum(safety) / 12)  # 45 / 12
    assert f.fit_check_wants_new_partner == pytest.approx(1 / 6) and f.fit_check_answers == 6
    # 10 closeout responses, 2 of them with no takeaways
    assert f.takeaway_responses == 8 and f.takeaways_shown
    # "generative" in 5 takeaways, "culture" and "feedback" in 3, "time" in 2; "zelda" is in 2 but is a
    # participant's name; every other term is in only one takeaway
    assert f.takeaway_terms == (("generative", 5), ("culture", 3), ("feedback", 3), ("time", 2))
    stored = await es.pool.fetchval("SELECT responses FROM rm_takeaway_terms WHERE term = 'zelda'")
    assert stored == 2


async def test_program_summary_and_provenance(report: ImpactReport, es: EventStore) -> None:
    p = report.program
    assert (p.participants, p.mentors, p.mentees) == (16, 8, 8)
    assert (p.pairings, p.pairings_started, p.pairings_closed) == (8, 8, 8)
    assert (p.sessions_held, p.sessions_missed, p.targets) == (17, 4, 9)
    assert report.position == await es.head_position()
    assert sum(1 for m in report.metrics if m.met is True) == 4
    assert sum(1 for m in report.metrics if m.met is False) == 5


async def test_json_carries_the_same_numbers(report: ImpactReport) -> None:
    data = to_dict(report)
    by_name = {m["name"]: m for m in data["metrics"]}
    assert by_name["session_completion"]["value"] == pytest.approx(17 / 21)
    assert by_name["session_completion"]["display"] == "81.0 %"
    assert by_name["would_recommend_nps"]["display"] == "+0"
    assert by_name["retention_12m"]["targets"] == [
        {"op": "at_least", "bound": 0.9, "met": False, "display": "≥ 90.0 %"}
    ]
    assert data["charts"]["sessions_by_month"] == [["2027-01", 7, 3], ["2027-02", 9, 1], ["2027-03", 1, 0]]


async def test_baseline_cohort(es: EventStore) -> None:
    await fixture_program().append(es)
    await build_program("rm-baseline", "last year's pilot", fixture_scripts()[:5]).append(es)
    report = await _report(es, baseline_id="rm-baseline")
    assert report.baseline is not None and report.baseline.pairings == 5
    completion = report.metric("session_completion")
    # baseline: pairings 1-5 only: held 4 + 3 + 4 + 3 + 2 = 16, missed 2
    assert completion.baseline == pytest.approx(16 / 18)
    assert completion.delta == pytest.approx(17 / 21 - 16 / 18) and completion.better_than_baseline is False
    goals = report.metric("time_to_agreed_goals_days")
    assert goals.baseline == pytest.approx(9.0)  # median of 2, 5, 9, 14, 20
    assert goals.better_than_baseline is True  # 5 days < 9 days, and lower is better
    retention = report.metric("retention_12m")
    assert retention.baseline is None and retention.baseline_status == "not_yet"  # no HR data there


async def test_survey_figures_are_withheld_below_five_responses(es: EventStore) -> None:
    scripts = fixture_scripts()
    await build_program("rm-two", "two", [scripts[0], scripts[1], scripts[6]]).append(es)
    report = await _report(es, "rm-two")  # 2 closeouts and 2 midpoints per side: 4 responses
    responses = {
        "goal_attainment": 4,
        "midpoint_health": 4,
        "satisfaction_mentor": 2,
        "satisfaction_mentee": 2,
        "would_recommend_nps": 4,
    }
    for name, n in responses.items():
        m = report.metric(name)
        assert (m.value, m.status, m.n) == (None, "withheld", n), name
        assert m.detail.startswith(f"withheld: {n} "), name
    c, f = report.charts, report.feedback
    assert c.attainment_bins is None and c.nps_split is None
    assert c.satisfaction == {"mentor": None, "mentee": None}
    assert f.psychological_safety is None and f.fit_check_wants_new_partner is None
    assert f.takeaway_responses == 4 and not f.takeaways_shown and f.takeaway_terms == ()
    # sessions and rates are not survey answers: always shown (held 4 + 3, missed 1)
    assert report.metric("session_completion").value == pytest.approx(7 / 8)


async def test_figures_appear_from_exactly_five_responses(es: EventStore) -> None:
    scripts = fixture_scripts()
    await build_program("rm-three", "three", [scripts[0], scripts[1], scripts[2]]).append(es)
    report = await _report(es, "rm-three")  # 3 closeouts per side: 6 for both sides, 3 for one
    assert report.metric("goal_attainment").value == pytest.approx((320 + 240 + 160) / 12 / 100)
    assert report.metric("midpoint_health").value == pytest.approx((5 + 4 + 4 + 4 + 3 + 4) / 6)
    assert report.metric("satisfaction_mentor").status == "withheld"  # 3 mentors
    assert report.charts.satisfaction == {"mentor": None, "mentee": None}
    f = report.feedback
    assert f.fit_check_wants_new_partner == pytest.approx(1 / 6)  # 6 answers
    assert f.takeaway_responses == 5 and f.takeaways_shown  # 2 + 2 + 1 written takeaways


async def test_retention_waits_for_hr_data_that_reaches_the_horizon(es: EventStore) -> None:
    script = Script(2, ["H44"] * 4, closeout=(Closeout((50, 50), 8, 4), Closeout((50, 50), 8, 4)))
    await build_program("rm-none", "no HR data", [script]).append(es)
    await build_program("rm-early", "early HR data", [script], as_of=date(2027, 8, 1)).append(es)
    none = await _report(es, "rm-none")
    assert all(none.metric(f"retention_{n}m").status == "not_yet" for n in (3, 6, 12))
    early = await _report(es, "rm-early")
    assert early.metric("retention_3m").value == 1.0 and early.metric("retention_6m").value == 1.0
    twelve = early.metric("retention_12m")
    assert twelve.value is None and twelve.status == "not_yet"
    assert "2028-01-04" in twelve.detail and "2027-08-01" in twelve.detail


async def test_a_report_reads_the_read_models_as_they_were_caught_up(es: EventStore) -> None:
    built = fixture_program()
    await built.append(es)
    await read_models.runner(es.pool).catch_up()
    again = await report_for(es.pool, "rm-fixture", now=NOW, catch_up=False)
    assert again.metric("session_completion").value == pytest.approx(17 / 21)
