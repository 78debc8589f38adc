"""The program configuration (its validation rules) and the program aggregate (create, configure, start,
close), plus the catalogue of impact metrics targets refer to."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from pydantic import ValidationError

from domain.durations import IsoDuration
from domain.errors import DomainError, InvalidTransition, RuleViolation
from domain.events import Event, check_sequence
from domain.metrics import METRICS
from domain.pairing import SessionHeld
from domain.program import (
    CloseProgram,
    ConfigureProgram,
    CreateProgram,
    MatchingSettings,
    MidpointSettings,
    ProgramClosed,
    ProgramCommand,
    ProgramConfig,
    ProgramConfigured,
    ProgramCreated,
    ProgramStage,
    ProgramStarted,
    ProgramState,
    ScheduleSettings,
    StartProgram,
    Target,
    decide_program,
    evolve_program,
    initial_program,
    program_stream,
    replay_program,
)
from tests.domain.pairing_helpers import T0

CONFIG = ProgramConfig(id="rm-pilot", name="Pilot")


# -- configuration -----------------------------------------------------------------------------------


def test_defaults_match_the_documented_program_file() -> None:
    s, m = CONFIG.schedule, CONFIG.midpoint
    assert (str(s.duration), str(s.session_cadence), str(s.first_session_after)) == ("P6M", "P2W", "P1W")
    assert (str(s.goal_setting_deadline), [str(r) for r in s.goal_reminders]) == ("P3W", ["P1W", "P2D"])
    assert (str(s.session_reminder), str(s.checkin_window), s.at_risk_after_misses) == ("P1D", "P3D", 2)
    assert s.allow_checkin_before_goals is False
    assert (m.at, str(m.window), str(m.override_window)) == (0.5, "P1W", "P3D")
    assert (m.rematch_if_relationship_below, m.end_early_if_progress_below) == (3, 20)
    assert (str(CONFIG.closeout.window), str(CONFIG.closeout.reminder)) == ("P2W", "P3D")
    assert CONFIG.matching == MatchingSettings() and CONFIG.targets == ()
    assert CONFIG.notifications.channel.value == "console"


@pytest.mark.parametrize("program_id", ["rm-pilot", "a1", "x" * 63, "2027-cohort"])
def test_program_ids(program_id: str) -> None:
    assert ProgramConfig(id=program_id, name="n").id == program_id


@pytest.mark.parametrize("program_id", ["", "a", "RM", "rm_pilot", "-rm", "x" * 64, "rm pilot", "rm.pilot"])
def test_bad_program_ids_are_refused_with_the_rule(program_id: str) -> None:
    with pytest.raises(ValidationError, match="lowercase letters, digits and '-'"):
        ProgramConfig(id=program_id, name="n")


@pytest.mark.parametrize("name", ["", "x" * 201])
def test_names_are_one_to_two_hundred_characters(name: str) -> None:
    with pytest.raises(ValidationError):
        ProgramConfig(id="rm-pilot", name=name)


@pytest.mark.parametrize(
    ("section", "values"),
    [
        (ScheduleSettings, {"at_risk_after_misses": 0}),
        (ScheduleSettings, {"at_risk_after_misses": 21}),
        (ScheduleSettings, {"duration": "six months"}),
        (ScheduleSettings, {"surprise": 1}),
        (MidpointSettings, {"at": 0}),
        (MidpointSettings, {"at": 1}),
        (MidpointSettings, {"rematch_if_relationship_below": 6}),
        (MidpointSettings, {"end_early_if_progress_below": 101}),
    ],
)
def test_settings_are_range_checked(section: type[Any], values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        section.model_validate(values)


def test_working_hours_start_before_they_end() -> None:
    hours = MatchingSettings.model_validate({"working_hours": {"start": 8.5, "end": 17}}).working_hours
    assert hours.length == 8.5
    with pytest.raises(ValidationError, match=re.escape("working_hours start (17) must be before end (9)")):
        MatchingSettings.model_validate({"working_hours": {"start": 17, "end": 9}})


def test_compatible_styles_are_trimmed_lowercase_pairs() -> None:
    settings = MatchingSettings.model_validate({"compatible_styles": [[" Direct ", "ANALYTICAL"]]})
    assert settings.compatible_styles == (("direct", "analytical"),)
    with pytest.raises(ValidationError, match="name two communication styles"):
        MatchingSettings.model_validate({"compatible_styles": [["direct", "  "]]})


def test_settings_are_immutable() -> None:
    with pytest.raises(ValidationError):
        CONFIG.schedule.at_risk_after_misses = 5  # type: ignore[misc]


def test_a_target_needs_exactly_one_bound() -> None:
    with pytest.raises(ValidationError, match="exactly one of at_least or at_most"):
        Target(metric="session_completion")
    with pytest.raises(ValidationError, match="exactly one of at_least or at_most"):
        Target(metric="session_completion", at_least=0.5, at_most=0.9)


def test_a_target_names_a_known_metric_and_a_possible_bound() -> None:
    with pytest.raises(ValidationError, match="unknown metric 'happiness'"):
        Target(metric="happiness", at_least=0.5)
    with pytest.raises(
        ValidationError, match=re.escape("impossible target: midpoint_health bound 7.0 is outside 1..5")
    ):
        Target(metric="midpoint_health", at_least=7.0)
    with pytest.raises(ValidationError, match="impossible target"):
        Target(metric="would_recommend_nps", at_most=-101)
    assert Target(metric="would_recommend_nps", at_least=-100).met_by(-100)


def test_targets_are_met_inclusively() -> None:
    at_least, at_most = (
        Target(metric="goal_attainment", at_least=0.7),
        Target(metric="at_risk_rate", at_most=0.15),
    )
    assert at_least.met_by(0.7) and at_least.met_by(0.9) and not at_least.met_by(0.69)
    assert at_most.met_by(0.15) and at_most.met_by(0.0) and not at_most.met_by(0.16)


def test_config_round_trips_through_json_with_durations_as_text() -> None:
    config = ProgramConfig.model_validate(
        {
            "id": "rm-x",
            "name": "X",
            "schedule": {"goal_reminders": ["P5D"], "duration": "P1Y"},
            "targets": [{"metric": "midpoint_health", "at_least": 3.5}],
        }
    )
    text = config.model_dump_json()
    assert '"duration":"P1Y"' in text and '"goal_reminders":["P5D"]' in text
    assert ProgramConfig.model_validate_json(text) == config
    assert config.schedule.goal_reminders == (IsoDuration(days=5),)


def test_metrics_catalogue_is_consistent() -> None:
    assert all(name == m.name and m.minimum < m.maximum and m.definition for name, m in METRICS.items())
    assert {"session_completion", "goal_attainment", "would_recommend_nps", "at_risk_rate"} <= set(METRICS)
    assert METRICS["would_recommend_nps"].minimum == -100 and not METRICS["at_risk_rate"].higher_is_better


# -- the program aggregate ------------------------------------------------------------------------------


class Program:
    """A tiny driver: decide, check numbering, evolve; ``reject`` asserts nothing changed."""

    def __init__(self, program_id: str = "rm-pilot") -> None:
        self.state: ProgramState = initial_program(program_id)
        self.events: list[Event] = []

    def do(self, command: ProgramCommand) -> list[Event]:
        events = decide_program(self.state, command, T0)
        check_sequence(events, self.state.stream_id, self.state.version)
        for event in events:
            self.state = evolve_program(self.state, event)
        self.events += events
        return events

    def reject(self, command: ProgramCommand, error: type[DomainError], rule: str) -> DomainError:
        before = copy.deepcopy(self.state.model_dump())
        with pytest.raises(error) as info:
            decide_program(self.state, command, T0)
        assert info.value.rule == rule and type(info.value) is error
        assert self.state.model_dump() == before
        return info.value


def test_create_records_the_program_and_its_configuration() -> None:
    p = Program()
    events = p.do(CreateProgram(config=CONFIG))
    assert [e.type for e in events] == ["ProgramCreated", "ProgramConfigured"]
    assert events[0].payload == ProgramCreated(program_id="rm-pilot", name="Pilot")
    assert events[1].payload == ProgramConfigured(config=CONFIG)
    assert events[0].stream_id == program_stream("rm-pilot") == "program-rm-pilot"
    assert (p.state.stage, p.state.config, p.state.version) == (ProgramStage.CREATED, CONFIG, 2)


def test_create_twice_is_refused() -> None:
    p = Program()
    p.do(CreateProgram(config=CONFIG))
    err = p.reject(CreateProgram(config=CONFIG), InvalidTransition, "program-exists")
    assert err.value == "rm-pilot"


def test_a_config_for_another_program_is_refused() -> None:
    p = Program()
    other = ProgramConfig(id="rm-other", name="Other")
    assert p.reject(CreateProgram(config=other), RuleViolation, "program-id-mismatch").value == "rm-other"
    p.do(CreateProgram(config=CONFIG))
    assert p.reject(ConfigureProgram(config=other), RuleViolation, "program-id-mismatch").value == "rm-other"


def test_reconfigure_while_created_or_running() -> None:
    p = Program()
    err = p.reject(ConfigureProgram(config=CONFIG), InvalidTransition, "program-not-open")
    assert err.value == "new"
    p.do(CreateProgram(config=CONFIG))
    longer = CONFIG.model_copy(update={"schedule": ScheduleSettings.model_validate({"duration": "P9M"})})
    assert [e.type for e in p.do(ConfigureProgram(config=longer))] == ["ProgramConfigured"]
    assert p.state.config == longer
    p.do(StartProgram(pairings=3))
    p.do(ConfigureProgram(config=CONFIG))
    assert p.state.config == CONFIG and p.state.stage is ProgramStage.RUNNING


def test_start_needs_a_created_program_and_happens_once() -> None:
    p = Program()
    assert p.reject(StartProgram(pairings=3), InvalidTransition, "program-not-startable").value == "new"
    p.do(CreateProgram(config=CONFIG))
    events = p.do(StartProgram(pairings=12))
    assert events[0].payload == ProgramStarted(pairings=12)
    assert (p.state.stage, p.state.pairings) == (ProgramStage.RUNNING, 12)
    assert p.reject(StartProgram(pairings=3), InvalidTransition, "program-not-startable").value == "running"


def test_close_needs_a_running_program_and_records_outcomes() -> None:
    p = Program()
    p.do(CreateProgram(config=CONFIG))
    err = p.reject(CloseProgram(outcomes={}), InvalidTransition, "program-not-running")
    assert err.value == "created"
    p.do(StartProgram(pairings=2))
    events = p.do(CloseProgram(outcomes={"completed": 1, "withdrawn": 1}))
    assert events[0].payload == ProgramClosed(outcomes={"completed": 1, "withdrawn": 1})
    assert (p.state.stage, p.state.outcomes) == (ProgramStage.CLOSED, {"completed": 1, "withdrawn": 1})
    assert p.reject(CloseProgram(outcomes={}), InvalidTransition, "program-not-running").value == "closed"
    assert p.reject(ConfigureProgram(config=CONFIG), InvalidTransition, "program-not-open").value == "closed"
    assert p.reject(CreateProgram(config=CONFIG), InvalidTransition, "program-exists").value == "rm-pilot"


def test_negative_pairing_counts_are_refused() -> None:
    with pytest.raises(ValidationError):
        StartProgram(pairings=-1)


def test_replay_rebuilds_the_program() -> None:
    p = Program()
    p.do(CreateProgram(config=CONFIG))
    p.do(StartProgram(pairings=2))
    p.do(CloseProgram(outcomes={"completed": 2}))
    assert replay_program("rm-pilot", p.events) == p.state
    assert p.state.version == len(p.events) == 4


def test_evolve_ignores_foreign_events_but_keeps_the_version() -> None:
    from domain.events import stamp

    state = initial_program("rm-pilot")
    [stray] = stamp(state.stream_id, 0, [SessionHeld(session=1)], T0)
    assert evolve_program(state, stray) == state.model_copy(update={"version": 1})
