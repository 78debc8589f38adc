"""Program files: every rule reports FILE:LINE:COL and says what is wrong, all problems at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from domain.durations import IsoDuration
from domain.program import (
    Channel,
    CloseoutSettings,
    EmailSettings,
    MatchingRequirements,
    MatchingSettings,
    MatchingWeights,
    MidpointSettings,
    NotificationSettings,
    ProgramConfig,
    RetrySettings,
    ScheduleSettings,
    Target,
    WebhookSettings,
)
from domain.program_file import parse_program
from domain.validation import InvalidInput, Problem

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "program.yaml"
DASH = "\N{EN DASH}"
HEAD = "id: rm-test\nname: Test program\n"  # lines 1-2 of most test files: what follows starts on line 3


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        parse_program(text, "p.yaml")
    return [str(p) for p in info.value.problems]


def only(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


# -- Problem / InvalidInput ------------------------------------------------------------------------


def test_problem_renders_as_file_line_column_message() -> None:
    assert str(Problem("p.yaml", 3, 7, "bad")) == "p.yaml:3:7: bad"


def test_invalid_input_sorts_problems_and_prints_one_per_line() -> None:
    error = InvalidInput([Problem("b", 1, 1, "x"), Problem("a", 9, 2, "y"), Problem("a", 2, 5, "z")])
    assert [(p.file, p.line) for p in error.problems] == [("a", 2), ("a", 9), ("b", 1)]
    assert str(error) == "a:2:5: z\na:9:2: y\nb:1:1: x"


# -- valid files -------------------------------------------------------------------------------------


def test_minimal_file_takes_every_default() -> None:
    assert parse_program(HEAD, "p.yaml") == ProgramConfig(id="rm-test", name="Test program")


def test_example_parses_and_keeps_defaults_it_does_not_change() -> None:
    config = parse_program(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE))
    expected = ProgramConfig(
        id="rm-pilot-2027",
        name="Reverse mentoring pilot 2027",
        description=config.description,
        targets=(
            Target(metric="session_completion", at_least=0.8),
            Target(metric="time_to_agreed_goals_days", at_most=21),
            Target(metric="goal_attainment", at_least=0.7),
            Target(metric="midpoint_health", at_least=3.5),
            Target(metric="would_recommend_nps", at_least=30),
            Target(metric="at_risk_rate", at_most=0.15),
            Target(metric="retention_12m", at_least=0.9),
        ),
        matching=MatchingSettings(
            seed=2027,
            exclude=(("ava.thompson@example.com", "daniel.okafor@example.com"),),
            force=(("liam.chen@example.com", "margaret.hughes@example.com"),),
        ),
    )
    assert config == expected
    assert config.description.startswith("Twelve junior colleagues")
    assert config.notifications.channel is Channel.CONSOLE
    assert config.schedule.duration == IsoDuration.parse("P6M")


def test_example_documents_every_setting() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    models: list[type[BaseModel]] = [
        ProgramConfig,
        ScheduleSettings,
        MidpointSettings,
        CloseoutSettings,
        MatchingSettings,
        MatchingWeights,
        MatchingRequirements,
        NotificationSettings,
        EmailSettings,
        WebhookSettings,
        RetrySettings,
    ]
    for model in models:
        for name in model.model_fields:
            assert f"{name}:" in text, name


def test_targets_keep_their_order_and_convert_percents() -> None:
    config = parse_program(
        HEAD + "targets:\n"
        "  retention_12m: {at_least: 90%}\n"
        "  session_completion: {at_least: 0.8}\n"
        "  at_risk_rate: {at_most: 15%}\n"
        "  time_to_agreed_goals_days: {at_most: 21}\n"
        "  would_recommend_nps: {at_least: -10}\n",
        "p.yaml",
    )
    assert config.targets == (
        Target(metric="retention_12m", at_least=0.9),
        Target(metric="session_completion", at_least=0.8),
        Target(metric="at_risk_rate", at_most=0.15),
        Target(metric="time_to_agreed_goals_days", at_most=21),
        Target(metric="would_recommend_nps", at_least=-10),
    )


def test_pair_emails_are_trimmed_and_lowercased() -> None:
    config = parse_program(HEAD + "matching:\n  exclude:\n    - [Ann@Example.com, ' bob@example.com']\n", "p")
    assert config.matching.exclude == (("ann@example.com", "bob@example.com"),)


def test_commented_out_section_means_defaults() -> None:
    assert parse_program(HEAD + "schedule:\n  # duration: P3M\n", "p") == ProgramConfig(
        id="rm-test", name="Test program"
    )


# -- file-level problems -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"])
def test_empty_file(text: str) -> None:
    assert only(text) == "p.yaml:1:1: program file is empty (expected settings such as 'id:' and 'name:')"


@pytest.mark.parametrize(("text", "where"), [("- a\n- b\n", "1:1"), ("\n\njust text\n", "3:1")])
def test_top_level_must_be_a_mapping(text: str, where: str) -> None:
    assert only(text) == f"p.yaml:{where}: program file must be a mapping of settings ('key: value' lines)"


def test_yaml_syntax_error_is_located() -> None:
    message = only(HEAD + "schedule:\n  duration: P6M\n   session_cadence: P2W\n")
    assert message.startswith("p.yaml:5:19: invalid YAML: mapping values are not allowed here")


def test_unclosed_flow_sequence() -> None:
    assert only(HEAD + "schedule: {goal_reminders: [P1W\n").startswith("p.yaml:4:1: invalid YAML:")


def test_control_character_is_located() -> None:
    assert only(HEAD + "name2: a\x01b\n") == (
        "p.yaml:3:9: invalid character U+0001 (not allowed in a YAML file)"
    )


def test_several_documents_are_rejected() -> None:
    assert "expected a single document" in only(HEAD + "---\nid: other\n")


def test_duplicate_top_level_key() -> None:
    assert only(HEAD + "name: Again\n") == "p.yaml:3:1: duplicate key 'name' (first written on line 2)"


def test_duplicate_nested_key() -> None:
    message = only(HEAD + "schedule:\n  duration: P6M\n  duration: P3M\n")
    assert message == "p.yaml:5:3: duplicate key 'duration' (first written on line 4)"


def test_recursive_alias_does_not_hang() -> None:
    assert "recursive YAML alias" in only(HEAD + "schedule:\n  goal_reminders: &r [P1W, *r]\n")


def test_alias_bomb_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    message = only("\n".join(lines) + "\n")
    assert message == "p.yaml:1:1: program file is too large (more than 20000 values, counting aliases)"


def test_unsupported_tag() -> None:
    message = only(HEAD + "description: !!python/name:os.system x\n")
    assert message.startswith("p.yaml:3:14: unsupported YAML tag")


def test_merge_keys_are_rejected() -> None:
    message = only(HEAD + "base: &b {duration: P3M}\n")
    assert message == "p.yaml:3:1: unknown setting 'base'"
    assert "merge keys" in problems(HEAD + "schedule:\n  <<: {duration: P3M}\n")[0]


def test_unreadable_scalar() -> None:
    assert only(HEAD + "matching: {seed: !!int many}\n") == "p.yaml:3:18: cannot read 'many' as int"


def test_complex_key() -> None:
    assert only(HEAD + "? [a, b]\n: c\n") == "p.yaml:3:3: keys must be plain names, not lists or mappings"


# -- settings --------------------------------------------------------------------------------------


def test_missing_required_settings_point_at_the_mapping() -> None:
    assert problems("# header comment\ndescription: x\n") == [
        "p.yaml:2:1: missing required setting 'id'",
        "p.yaml:2:1: missing required setting 'name'",
    ]


def test_unknown_top_level_setting_with_suggestion() -> None:
    assert only(HEAD + "schedul:\n  duration: P6M\n") == (
        "p.yaml:3:1: unknown setting 'schedul' (did you mean 'schedule'?)"
    )


def test_unknown_nested_setting_points_at_the_key_with_suggestion() -> None:
    assert only(HEAD + "schedule:\n  cadense: P2W\n") == (
        "p.yaml:4:3: unknown setting 'cadense' in schedule (did you mean 'session_cadence'?)"
    )


def test_unknown_deeply_nested_setting() -> None:
    assert only(HEAD + "matching:\n  weights: {skils: 2}\n") == (
        "p.yaml:4:13: unknown setting 'skils' in matching.weights (did you mean 'skills'?)"
    )


def test_bad_duration_points_at_the_value() -> None:
    assert only(HEAD + "schedule:\n  session_cadence: P2X\n") == (
        "p.yaml:4:20: 'P2X' is not an ISO-8601 duration (examples: P6M, P2W, P3D, PT12H)"
    )


def test_bad_duration_in_a_list() -> None:
    assert only(HEAD + "schedule:\n  goal_reminders: [P1W, soon]\n") == (
        "p.yaml:4:25: 'soon' is not an ISO-8601 duration (examples: P6M, P2W, P3D, PT12H)"
    )


def test_duration_that_is_a_number() -> None:
    assert only(HEAD + "closeout:\n  window: 14\n") == (
        "p.yaml:4:11: expected an ISO-8601 duration such as P2W, got 14"
    )


@pytest.mark.parametrize("value", ["25", "0", "two", "1.5", "true"])
def test_integer_setting_out_of_range(value: str) -> None:
    message = only(HEAD + f"schedule:\n  at_risk_after_misses: {value}\n")
    assert message.startswith("p.yaml:4:25: at_risk_after_misses must be an integer between 1 and 20 (got ")


def test_open_interval_setting() -> None:
    assert only(HEAD + "midpoint:\n  at: 1.5\n") == (
        "p.yaml:4:7: at must be a number greater than 0 and less than 1 (got 1.5)"
    )


def test_lower_bound_only_setting() -> None:
    assert only(HEAD + "matching:\n  weights:\n    skills: -1\n") == (
        "p.yaml:5:13: skills must be a number of at least 0 (got -1)"
    )


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "yes"])
def test_number_setting_must_be_a_finite_number(value: str) -> None:
    assert only(HEAD + f"matching:\n  weights:\n    skills: {value}\n").startswith(
        "p.yaml:5:13: skills must be a number of at least 0 (got "
    )


def test_boolean_setting() -> None:
    assert only(HEAD + "schedule:\n  allow_checkin_before_goals: maybe\n") == (
        "p.yaml:4:31: allow_checkin_before_goals must be true or false (got 'maybe')"
    )


def test_unknown_channel() -> None:
    assert only(HEAD + "notifications: {channel: pigeon}\n") == (
        "p.yaml:3:26: unknown channel 'pigeon' (expected console, simulated, email or webhook)"
    )


def test_section_must_be_a_mapping() -> None:
    assert only(HEAD + "schedule: P2W\n") == (
        "p.yaml:3:11: schedule must be a mapping of settings ('key: value' lines)"
    )


def test_program_id_shape() -> None:
    assert only("id: Rm Pilot\nname: x\n") == (
        "p.yaml:1:5: program id 'Rm Pilot' must be 2-63 characters of lowercase letters, digits and '-'"
    )


def test_name_must_be_text_and_not_empty() -> None:
    assert only("id: rm-x\nname: 2027\n") == (
        "p.yaml:2:7: name must be text (put it in quotes if it looks like a number or a date)"
    )
    assert only("id: rm-x\nname:\n") == "p.yaml:2:6: name must not be empty"
    assert only("id: rm-x\nname: ''\n") == "p.yaml:2:7: name must not be empty"
    assert only(f"id: rm-x\nname: {'n' * 201}\n") == "p.yaml:2:7: name must be at most 200 characters"


def test_list_setting_given_a_scalar() -> None:
    assert only(HEAD + "schedule:\n  goal_reminders: 5\n") == "p.yaml:4:19: goal_reminders must be a list"


# -- targets -----------------------------------------------------------------------------------------


def test_unknown_metric_with_suggestion() -> None:
    assert only(HEAD + "targets:\n  sesion_completion: {at_least: 80%}\n") == (
        "p.yaml:4:3: unknown metric 'sesion_completion' (did you mean 'session_completion'?)"
    )


def test_impossible_target() -> None:
    assert only(HEAD + "targets:\n  session_completion: {at_least: 1.2}\n") == (
        f"p.yaml:4:34: impossible target: session_completion at_least 1.2 is outside 0{DASH}100 %"
    )


def test_impossible_percent_target() -> None:
    assert only(HEAD + "targets:\n  at_risk_rate: {at_most: 120%}\n") == (
        f"p.yaml:4:27: impossible target: at_risk_rate at_most 120% is outside 0{DASH}100 %"
    )


def test_whole_number_ratio_suggests_a_percent() -> None:
    assert only(HEAD + "targets:\n  session_completion: {at_least: 80}\n") == (
        f"p.yaml:4:34: impossible target: session_completion at_least 80 is outside 0{DASH}100 % "
        "(did you mean 80%?)"
    )


@pytest.mark.parametrize(
    ("target", "range_text"),
    [
        ("midpoint_health: {at_least: 6}", f"1{DASH}5"),
        ("time_to_agreed_goals_days: {at_most: -3}", f"0{DASH}3660 days"),
        ("would_recommend_nps: {at_least: 150}", f"-100{DASH}100"),
        ("goal_attainment: {at_least: .nan}", f"0{DASH}100 %"),
    ],
)
def test_impossible_targets_on_other_units(target: str, range_text: str) -> None:
    message = only(HEAD + f"targets:\n  {target}\n")
    assert message.startswith("p.yaml:4:") and "impossible target" in message
    assert message.endswith(f"is outside {range_text}")


@pytest.mark.parametrize(
    ("metric", "unit"),
    [("would_recommend_nps", "nps"), ("midpoint_health", "score"), ("time_to_agreed_goals_days", "days")],
)
def test_percent_only_for_ratio_metrics(metric: str, unit: str) -> None:
    message = only(HEAD + f"targets:\n  {metric}: {{at_least: 30%}}\n")
    expected = f"p.yaml:4:{len(metric) + 16}: a percent is not allowed for {metric} (unit: {unit})"
    assert message.startswith(expected)


def test_target_needs_exactly_one_bound() -> None:
    assert only(HEAD + "targets:\n  at_risk_rate: {at_least: 10%, at_most: 20%}\n") == (
        "p.yaml:4:17: target at_risk_rate needs exactly one of at_least or at_most"
    )
    assert only(HEAD + "targets:\n  at_risk_rate: {}\n") == (
        "p.yaml:4:17: target at_risk_rate needs exactly one of at_least or at_most"
    )


def test_unknown_bound_with_suggestion() -> None:
    assert only(HEAD + "targets:\n  retention_12m: {atleast: 90%}\n") == (
        "p.yaml:4:19: unknown bound 'atleast' for target retention_12m (did you mean 'at_least'?) "
        "(expected at_least or at_most)"
    )


def test_target_must_be_a_bound_mapping() -> None:
    assert only(HEAD + "targets:\n  midpoint_health: 4\n") == (
        "p.yaml:4:20: target midpoint_health must be written as {at_least: …} or {at_most: …}"
    )


def test_targets_must_be_a_mapping() -> None:
    message = only(HEAD + "targets:\n  - session_completion\n")
    assert message.startswith("p.yaml:4:3: targets must be a mapping from metric name to one bound")


def test_target_value_must_be_a_number() -> None:
    assert only(HEAD + "targets:\n  session_completion: {at_least: lots}\n") == (
        "p.yaml:4:34: target session_completion at_least must be a number or a percent such as 80% "
        "(got 'lots')"
    )


def test_duplicate_metric() -> None:
    message = only(HEAD + "targets:\n  at_risk_rate: {at_most: 10%}\n  at_risk_rate: {at_most: 20%}\n")
    assert message == "p.yaml:5:3: duplicate key 'at_risk_rate' (first written on line 4)"


# -- matching pairs --------------------------------------------------------------------------------


def test_pair_with_a_bad_email() -> None:
    assert only(HEAD + "matching:\n  exclude:\n    - [ann@example.com, bob]\n") == (
        "p.yaml:5:25: 'bob' is not an email address"
    )


def test_pair_must_have_two_emails() -> None:
    assert only(HEAD + "matching:\n  force:\n    - [ann@example.com]\n") == (
        "p.yaml:5:7: each force entry must be a pair [email, email]"
    )


def test_pairs_must_be_a_list() -> None:
    assert only(HEAD + "matching:\n  exclude: ann@example.com\n") == (
        "p.yaml:4:12: exclude must be a list of [email, email] pairs"
    )


def test_pair_of_one_person() -> None:
    assert only(HEAD + "matching:\n  exclude:\n    - [ann@example.com, ANN@example.com]\n") == (
        "p.yaml:5:7: exclude pair names the same person twice (ann@example.com)"
    )


def test_pair_both_forced_and_excluded() -> None:
    text = (
        HEAD + "matching:\n  exclude: [[a@example.com, b@example.com]]\n"
        "  force: [[b@example.com, a@example.com]]\n"
    )
    assert only(text) == "p.yaml:5:11: pair b@example.com / a@example.com is both forced and excluded"


# -- cross-field schedule rules ----------------------------------------------------------------------


def test_goal_reminder_not_shorter_than_deadline() -> None:
    assert only(HEAD + "schedule:\n  goal_setting_deadline: P3W\n  goal_reminders: [P1W, P4W]\n") == (
        "p.yaml:5:25: goal reminder P4W must be shorter than goal_setting_deadline P3W"
    )


def test_deadline_shorter_than_default_reminder_points_at_the_deadline() -> None:
    assert only(HEAD + "schedule:\n  goal_setting_deadline: P5D\n") == (
        "p.yaml:4:26: goal_setting_deadline P5D must be longer than the default goal reminder P1W "
        "(or set goal_reminders)"
    )


def test_session_reminder_not_shorter_than_cadence() -> None:
    assert only(HEAD + "schedule:\n  session_reminder: P2W\n") == (
        "p.yaml:4:21: session_reminder P2W must be shorter than session_cadence P2W"
    )


def test_checkin_window_not_shorter_than_cadence_points_at_written_cadence() -> None:
    assert only(HEAD + "schedule:\n  session_cadence: P2D\n") == (
        "p.yaml:4:20: checkin_window P3D must be shorter than session_cadence P2D"
    )


def test_checkin_window_not_shorter_than_cadence() -> None:
    assert only(HEAD + "schedule:\n  checkin_window: P1M\n") == (
        "p.yaml:4:19: checkin_window P1M must be shorter than session_cadence P2W"
    )


def test_duration_not_longer_than_cadence() -> None:
    assert only(HEAD + "schedule:\n  duration: P10D\n") == (
        "p.yaml:4:13: duration P10D must be longer than session_cadence P2W"
    )


def test_zero_duration() -> None:
    found = problems(HEAD + "schedule:\n  duration: P0D\n")
    assert "p.yaml:4:13: duration must be longer than zero" in found


# -- all at once -------------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    text = (
        "id: rm-test\n"  # 1
        "name: Test\n"  # 2
        "schedule:\n"  # 3
        "  cadense: P2W\n"  # 4 unknown setting
        "  duration: P2X\n"  # 5 bad duration
        "  at_risk_after_misses: 25\n"  # 6 out of range
        "targets:\n"  # 7
        "  session_completion: {at_least: 1.2}\n"  # 8 impossible target
        "notifications: {channel: pigeon}\n"  # 9 unknown channel
    )
    found = problems(text)
    assert [f.split(": ", 1)[0] for f in found] == [
        "p.yaml:4:3",
        "p.yaml:5:13",
        "p.yaml:6:25",
        "p.yaml:8:34",
        "p.yaml:9:26",
    ]


# -- fuzzing -----------------------------------------------------------------------------------------


def _check_never_crashes(text: str) -> None:
    try:
        config = parse_program(text, "fuzz.yaml")
    except InvalidInput as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file == "fuzz.yaml"
            assert problem.line >= 1 and problem.column >= 1
            assert problem.message
    else:
        assert isinstance(config, ProgramConfig)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_fuzz_arbitrary_text(text: str) -> None:
    _check_never_crashes(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary())
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _check_never_crashes(data.decode("utf-8", errors="replace"))


_FRAGMENTS = st.sampled_from(
    [
        "id: rm-x\n",
        "name: x\n",
        "schedule:\n",
        "  duration: P6M\n",
        "  session_cadence: P1Y\n",
        "targets:\n",
        "  session_completion: {at_least: 80%}\n",
        "  at_risk_rate: {at_most: 2}\n",
        "  x: [1, 2\n",
        "matching:\n",
        "  exclude: [[a@b.c, d@e.f]]\n",
        "  force: [x]\n",
        "  weights: {skills: true}\n",
        ": \n",
        "- \n",
        "&a x: *a\n",
        "  goal_reminders: [P4W]\n",
        "midpoint: {at: .inf}\n",
        "\t",
        "'",
        '"',
        "{",
        "}",
        "[",
        "]",
        ",",
        "#",
        "\n",
        "notifications: {channel: console}\n",
        "!!binary",
        "? ",
        "<<: ",
        "---\n",
        "  ",
        "%",
        "~",
        "null",
        "yes",
    ]
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FRAGMENTS, max_size=25))
def test_fuzz_yaml_like_text(fragments: list[str]) -> None:
    _check_never_crashes("".join(fragments))
