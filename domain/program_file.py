"""Parse a program file (YAML) into a :class:`ProgramConfig`, reporting every problem with its location.

Why not ``yaml.safe_load`` + ``model_validate``: plain loading forgets where each value was written,
silently keeps the last of two duplicate keys, and pydantic's messages speak about Python types. We
compose the YAML into nodes instead, build the plain data ourselves while remembering each value's
and each key's position, validate with pydantic, and map every error back to a line and column in
words an operator understands. All problems are collected and raised together as :class:`InvalidInput`.

Positions: errors point at the offending value; unknown keys at the key; missing required settings at
the mapping that should contain them. The file format is the :class:`ProgramConfig` model, except
``targets``, written as a mapping from metric name to one bound (``{at_least: 80%}``); percents are
allowed for ratio metrics only. Emails in ``matching.exclude`` / ``matching.force`` are stored
trimmed and lowercased, as the roster stores them.

Pure: no I/O; the caller reads the file and passes its text.
"""

from __future__ import annotations

import enum
import math
import re
import typing
from typing import Any

import yaml
from annotated_types import Ge, Gt, Le, Lt, MaxLen
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from yaml.error import Mark

from domain.durations import DurationError, IsoDuration
from domain.metrics import METRICS, Metric
from domain.program import ProgramConfig, ScheduleSettings
from domain.validation import InvalidInput, Problem, did_you_mean, is_email

Path = tuple[str | int, ...]

_MAX_NODES = 20_000  # a program file has a few dozen values; this bounds alias expansion ("billion laughs")
_MAX_DEPTH = 50
_BOUNDS = ("at_least", "at_most")
_DASH = "\N{EN DASH}"
_PERCENT = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*%\s*$")
_T = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_T}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}


class _TooBig(Exception):
    """Internal: the node budget ran out; building stops at once."""


class _Doc:
    """The file's plain data plus where each value (and each mapping key) was written."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []
        self.values: dict[Path, Mark] = {}
        self.keys: dict[Path, Mark] = {}
        self.raw: dict[Path, str] = {}
        self.broken: set[Path] = set()  # values the builder already reported: later checks stay quiet
        self._loader = yaml.SafeLoader("")  # used only to construct scalars (ints, floats, bools, dates)
        self._nodes = 0
        self._stack: set[int] = set()

    # -- reporting ------------------------------------------------------------------------------

    def at_mark(self, mark: Mark | None, message: str) -> None:
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        self.problems.append(Problem(self.filename, line, column, message))

    def at_value(self, path: Path, message: str) -> None:
        """At the value written at ``path``, or at the nearest enclosing value that was written."""
        if not self._is_broken(path):
            self.at_mark(self._nearest(path), message)

    def at_key(self, path: Path, message: str) -> None:
        if not self._is_broken(path):
            self.at_mark(self.keys.get(path) or self._nearest(path), message)

    def unreadable(self, node: yaml.Node, path: Path, message: str) -> None:
        """A value the builder could not turn into data: reported once, here, and nowhere else."""
        self.at_mark(node.start_mark, message)
        self.broken.add(path)

    def _is_broken(self, path: Path) -> bool:
        return bool(self.broken) and any(path[:end] in self.broken for end in range(len(path) + 1))

    def _nearest(self, path: Path) -> Mark | None:
        for end in range(len(path), -1, -1):
            mark = self.values.get(path[:end])
            if mark is not None:
                return mark
        return None

    # -- building plain data from nodes ---------------------------------------------------------

    def build(self, node: yaml.Node, path: Path, depth: int = 0) -> Any:
        self._nodes += 1
        if self._nodes > _MAX_NODES:
            raise _TooBig
        self.values[path] = node.start_mark
        if depth > _MAX_DEPTH:
            self.unreadable(node, path, f"nested more than {_MAX_DEPTH} levels deep")
            return None
        if id(node) in self._stack:
            self.unreadable(node, path, "recursive YAML alias (an anchor used inside itself)")
            return None
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        self._stack.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode) and node.tag == f"{_T}seq":
                return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode) and node.tag == f"{_T}map":
                return self._mapping(node, path, depth)
            self.unreadable(node, path, f"unsupported YAML tag {node.tag!r}")
            return None
        finally:
            self._stack.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        self.raw[path] = str(node.value)
        if node.tag not in _SCALAR_TAGS:
            self.unreadable(node, path, f"unsupported YAML tag {node.tag!r}")
            return None
        try:
            return self._loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError, TypeError):
            self.unreadable(node, path, f"cannot read {node.value!r} as {node.tag.rsplit(':', 1)[-1]}")
            return None

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.at_mark(key_node.start_mark, "keys must be plain names, not lists or mappings")
                continue
            key = str(key_node.value)  # the key as written: 'on' stays 'on', not True
            if key == "<<" and key_node.tag == f"{_T}merge":
                self.at_mark(
                    key_node.start_mark, "YAML merge keys ('<<') are not supported; write the settings out"
                )
                continue
            if key in first_line:
                self.at_mark(
                    key_node.start_mark, f"duplicate key {key!r} (first written on line {first_line[key]})"
                )
                continue
            first_line[key] = key_node.start_mark.line + 1
            self.keys[(*path, key)] = key_node.start_mark
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result


# ---------------------------------------------------------------------------------------------


def parse_program(text: str, filename: str) -> ProgramConfig:
    """Parse and validate a program file; raise :class:`InvalidInput` with every problem found."""
    doc = _Doc(filename)
    data = _load(text, doc)
    config: ProgramConfig | None = None
    if data is not None:
        _check_targets(data, doc)
        matching = data.get("matching")
        if isinstance(matching, dict):
            _check_pairs(matching, doc)
            _check_style_pairs(matching, doc)
        _check_shape(data, ProgramConfig, (), doc)
        _check_schedule(data, doc)
        try:
            config = ProgramConfig.model_validate(data)
        except ValidationError as error:
            for item in error.errors():
                _report(item, doc)
    if doc.problems or config is None:
        raise InvalidInput(doc.problems or [Problem(filename, 1, 1, "program file is not valid")])
    return config


def _load(text: str, doc: _Doc) -> dict[str, Any] | None:
    """The top-level mapping as plain data, or None after reporting why there is none."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        message = error.problem or error.context or "not valid YAML"
        if error.problem and error.context:
            message += f" ({error.context})"
        doc.at_mark(error.problem_mark or error.context_mark, f"invalid YAML: {message}")
        return None
    except yaml.reader.ReaderError as error:
        position = max(0, min(error.position, len(text)))
        prefix = text[:position]
        line = prefix.count("\n") + 1
        column = position - (prefix.rfind("\n") + 1) + 1
        char = error.character if isinstance(error.character, str) else chr(error.character)
        doc.problems.append(
            Problem(
                doc.filename,
                line,
                column,
                f"invalid character U+{ord(char):04X} (not allowed in a YAML file)",
            )
        )
        return None
    except yaml.YAMLError as error:
        doc.at_mark(None, f"invalid YAML: {error}")
        return None
    except RecursionError:
        doc.at_mark(None, "program file is nested too deeply")
        return None
    if root is None:
        doc.at_mark(None, "program file is empty (expected settings such as 'id:' and 'name:')")
        return None
    if not isinstance(root, yaml.MappingNode):
        doc.at_mark(root.start_mark, "program file must be a mapping of settings ('key: value' lines)")
        return None
    try:
        data = doc.build(root, ())
    except _TooBig:
        doc.at_mark(None, f"program file is too large (more than {_MAX_NODES} values, counting aliases)")
        return None
    return data if isinstance(data, dict) else None


# -- targets -------------------------------------------------------------------------------------


def _check_targets(data: dict[str, Any], doc: _Doc) -> None:
    """Turn ``{metric: {at_least: 80%}}`` into Target dicts (valid ones only; problems are reported)."""
    if "targets" not in data:
        return
    written = data["targets"]
    targets: list[dict[str, Any]] = []
    data["targets"] = targets
    if written is None:
        return
    if not isinstance(written, dict):
        doc.at_value(
            ("targets",),
            "targets must be a mapping from metric name to one bound, "
            "e.g. 'session_completion: {at_least: 80%}'",
        )
        return
    for name, spec in written.items():
        path: Path = ("targets", name)
        metric = METRICS.get(name)
        if metric is None:
            doc.at_key(path, f"unknown metric {name!r}{did_you_mean(name, METRICS)}")
            continue
        if not isinstance(spec, dict):
            doc.at_value(path, f"target {name} must be written as {{at_least: …}} or {{at_most: …}}")
            continue
        unknown = [k for k in spec if k not in _BOUNDS]
        for key in unknown:
            doc.at_key(
                (*path, key),
                f"unknown bound {key!r} for target {name}"
                f"{did_you_mean(key, _BOUNDS)} (expected at_least or at_most)",
            )
        bounds = [k for k in _BOUNDS if k in spec]
        if len(bounds) == 2 or (not bounds and not unknown):
            doc.at_value(path, f"target {name} needs exactly one of at_least or at_most")
        if len(bounds) != 1:
            continue
        value = _target_value(metric, bounds[0], spec[bounds[0]], (*path, bounds[0]), doc)
        if value is not None:
            targets.append({"metric": name, bounds[0]: value})


def _target_value(metric: Metric, bound: str, value: Any, path: Path, doc: _Doc) -> float | None:
    written = doc.raw.get(path, str(value))
    number: float
    if isinstance(value, str) and (match := _PERCENT.match(value)):
        if metric.unit != "ratio":
            doc.at_value(
                path,
                f"a percent is not allowed for {metric.name} (unit: {metric.unit}); "
                f"write a number between {_num(metric.minimum)} and {_num(metric.maximum)}",
            )
            return None
        number = float(match.group(1)) / 100
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        also = " or a percent such as 80%" if metric.unit == "ratio" else ""
        doc.at_value(path, f"target {metric.name} {bound} must be a number{also} (got {written!r})")
        return None
    if not math.isfinite(number) or not metric.minimum <= number <= metric.maximum:
        hint = ""
        if metric.unit == "ratio" and "%" not in written and number.is_integer() and 1 < number <= 100:
            hint = f" (did you mean {written}%?)"
        doc.at_value(
            path, f"impossible target: {metric.name} {bound} {written} is outside {_range(metric)}{hint}"
        )
        return None
    return number


def _range(metric: Metric) -> str:
    if metric.unit == "ratio":
        return f"{_num(metric.minimum * 100)}{_DASH}{_num(metric.maximum * 100)} %"
    suffix = " days" if metric.unit == "days" else ""
    return f"{_num(metric.minimum)}{_DASH}{_num(metric.maximum)}{suffix}"


def _num(value: float) -> str:
    return f"{value:g}"


# -- matching.exclude / matching.force -------------------------------------------------------------


def _check_pairs(matching: dict[str, Any], doc: _Doc) -> None:
    """Check the email pairs; keep only well-formed ones (lowercased) for the model."""
    seen: dict[str, set[frozenset[str]]] = {}
    for name in ("exclude", "force"):
        if name not in matching:
            continue
        path: Path = ("matching", name)
        written = matching[name]
        pairs: list[list[str]] = []
        matching[name] = pairs
        seen[name] = set()
        if written is None:
            continue
        if not isinstance(written, list):
            doc.at_value(path, f"{name} must be a list of [email, email] pairs")
            continue
        for i, item in enumerate(written):
            if not isinstance(item, list) or len(item) != 2:
                doc.at_value((*path, i), f"each {name} entry must be a pair [email, email]")
                continue
            ok = True
            for j, email in enumerate(item):
                if not isinstance(email, str) or not is_email(email.strip()):
                    written_email = doc.raw.get((*path, i, j), email)
                    doc.at_value((*path, i, j), f"{written_email!r} is not an email address")
                    ok = False
            if not ok:
                continue
            pair = [str(e).strip().lower() for e in item]
            if pair[0] == pair[1]:
                doc.at_value((*path, i), f"{name} pair names the same person twice ({pair[0]})")
                continue
            key = frozenset(pair)
            if name == "force" and key in seen.get("exclude", set()):
                doc.at_value((*path, i), f"pair {pair[0]} / {pair[1]} is both forced and excluded")
                continue
            seen[name].add(key)
            pairs.append(pair)


def _check_style_pairs(matching: dict[str, Any], doc: _Doc) -> None:
    """``compatible_styles``: a list of [style, style] pairs of non-empty text; keep only good ones."""
    if "compatible_styles" not in matching:
        return
    path: Path = ("matching", "compatible_styles")
    written = matching["compatible_styles"]
    pairs: list[list[str]] = []
    matching["compatible_styles"] = pairs
    if written is None:
        return
    if not isinstance(written, list):
        doc.at_value(
            path, "compatible_styles must be a list of [style, style] pairs, e.g. [[direct, analytical]]"
        )
        return
    for i, item in enumerate(written):
        if not isinstance(item, list) or len(item) != 2:
            doc.at_value((*path, i), "each compatible_styles entry must be a pair [style, style]")
            continue
        if not all(isinstance(style, str) and style.strip() for style in item):
            doc.at_value((*path, i), "a compatible_styles pair names two communication styles (text)")
            continue
        pairs.append([style.strip().lower() for style in item])


# -- generic shape: unknown settings, sections that are not mappings, booleans for numbers -------


def _check_shape(data: dict[str, Any], model: type[BaseModel], path: Path, doc: _Doc) -> None:
    """Report what pydantic would word poorly, and remove it so it is reported once."""
    where = f" in {'.'.join(str(p) for p in path)}" if path else ""
    for key in list(data):
        info = model.model_fields.get(key)
        if info is None:
            doc.at_key((*path, key), f"unknown setting {key!r}{where}{did_you_mean(key, model.model_fields)}")
            del data[key]
            continue
        value = data[key]
        sub = _model_of(info)
        if sub is not None:
            if value is None:  # a section with every line commented out: its defaults apply
                del data[key]
            elif not isinstance(value, dict):
                doc.at_value((*path, key), f"{key} must be a mapping of settings ('key: value' lines)")
                del data[key]
            else:
                _check_shape(value, sub, (*path, key), doc)
        elif info.annotation in (int, float) and (
            isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value))
        ):  # pydantic takes true as 1 and .inf as a number; neither is what anyone meant
            doc.at_value((*path, key), _expectation(key, info, value))
            del data[key]


def _model_of(info: FieldInfo) -> type[BaseModel] | None:
    """The settings model a field holds, if it is a section (durations are values, not sections)."""
    annotation = info.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation is not IsoDuration:
        return annotation
    return None


# -- cross-field schedule checks ---------------------------------------------------------------------

_SCHEDULE_DEFAULTS = ScheduleSettings()


def _check_schedule(data: dict[str, Any], doc: _Doc) -> None:
    """Rules between settings; each problem sits at the first of the two settings the file wrote."""
    schedule = data.get("schedule")
    written: dict[str, Any] = schedule if isinstance(schedule, dict) else {}

    def get(key: str) -> tuple[IsoDuration | None, Path | None]:
        if key not in written:
            value: IsoDuration = getattr(_SCHEDULE_DEFAULTS, key)
            return value, None
        return _duration(written[key]), ("schedule", key)

    def complain(paths: tuple[Path | None, ...], message: str) -> None:
        where = next((p for p in paths if p is not None), None)
        if where is not None:  # both from defaults: nothing the file can fix
            doc.at_value(where, message)

    for key in ("duration", "session_cadence", "goal_setting_deadline", "checkin_window"):
        value, path = get(key)
        if value is not None and path is not None and value.is_zero:
            doc.at_value(path, f"{key} must be longer than zero")

    cadence, cadence_at = get("session_cadence")
    deadline, deadline_at = get("goal_setting_deadline")
    duration, duration_at = get("duration")
    if deadline is not None:
        if "goal_reminders" in written:
            reminders = written["goal_reminders"]
            items = list(enumerate(reminders)) if isinstance(reminders, list) else []
            for i, item in items:
                reminder = _duration(item)
                if reminder is not None and reminder.approx() >= deadline.approx():
                    complain(
                        (("schedule", "goal_reminders", i), deadline_at),
                        f"goal reminder {reminder} must be shorter than goal_setting_deadline {deadline}",
                    )
        else:
            for reminder in _SCHEDULE_DEFAULTS.goal_reminders:
                if reminder.approx() >= deadline.approx():
                    complain(
                        (deadline_at,),
                        f"goal_setting_deadline {deadline} must be longer than the "
                        f"default goal reminder {reminder} (or set goal_reminders)",
                    )
    if cadence is not None:
        for key in ("session_reminder", "checkin_window"):
            value, path = get(key)
            if value is not None and value.approx() >= cadence.approx():
                complain((path, cadence_at), f"{key} {value} must be shorter than session_cadence {cadence}")
        if duration is not None and duration.approx() <= cadence.approx():
            complain(
                (duration_at, cadence_at),
                f"duration {duration} must be longer than session_cadence {cadence}",
            )


def _duration(value: Any) -> IsoDuration | None:
    if isinstance(value, str):
        try:
            return IsoDuration.parse(value)
        except DurationError:
            return None  # reported by the model's validation
    return None


# -- pydantic errors in plain words ----------------------------------------------------------------


def _report(error: Any, doc: _Doc) -> None:
    loc: Path = tuple(error["loc"])
    kind: str = error["type"]
    names = [p for p in loc if isinstance(p, str)]
    if kind == "missing":
        parent = loc[:-1]
        where = f" in {'.'.join(str(p) for p in parent)}" if parent else ""
        doc.at_value(parent, f"missing required setting {loc[-1]!r}{where}")
        return
    if kind == "extra_forbidden":
        doc.at_key(loc, f"unknown setting {loc[-1]!r}")
        return
    info = _field_at(loc)
    name = names[-1] if names else "value"
    message = _describe(kind, name, info, error)
    doc.at_value(loc, message)


def _field_at(loc: Path) -> FieldInfo | None:
    model: type[BaseModel] | None = ProgramConfig
    info: FieldInfo | None = None
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None:
            return None
        info = model.model_fields.get(part)
        if info is None:
            return None
        model = _model_of(info)
    return info


def _describe(kind: str, name: str, info: FieldInfo | None, error: Any) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    if info is None:
        return f"{name}: {message[:1].lower()}{message[1:]}"
    annotation = info.annotation
    if annotation in (int, float):
        return _expectation(name, info, error.get("input"))
    if annotation is bool:
        return f"{name} must be true or false{_got(error.get('input'))}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = [str(m.value) for m in annotation]
        options = values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]
        return f"unknown {name} {error.get('input')!r} (expected {options})"
    if annotation is str:
        if kind == "string_too_short" or (error.get("input") is None and info.is_required()):
            return f"{name} must not be empty"
        if error.get("input") is None:
            return f"{name} has no value (write '' for none, or remove the line)"
        if kind == "string_too_long":
            limit = next((m.max_length for m in info.metadata if isinstance(m, MaxLen)), None)
            return f"{name} must be at most {limit} characters"
        return f"{name} must be text (put it in quotes if it looks like a number or a date)"
    if _is_tuple(annotation) and kind in ("tuple_type", "list_type"):
        return f"{name} must be a list"
    return f"{name}: {message[:1].lower()}{message[1:]}"


def _is_tuple(annotation: Any) -> bool:
    return typing.get_origin(annotation) is tuple


def _expectation(name: str, info: FieldInfo, value: Any) -> str:
    """ "at_risk_after_misses must be an integer between 1 and 20 (got 25)", from the field's constraints."""
    kind = "an integer" if info.annotation is int else "a number"
    low: Any = None
    high: Any = None
    low_open = high_open = False
    for meta in info.metadata:
        if isinstance(meta, Ge):
            low = meta.ge
        elif isinstance(meta, Gt):
            low, low_open = meta.gt, True
        elif isinstance(meta, Le):
            high = meta.le
        elif isinstance(meta, Lt):
            high, high_open = meta.lt, True

    def fmt(bound: Any) -> str:
        return _num(float(bound))

    if low is not None and high is not None and not low_open and not high_open:
        rule = f" between {fmt(low)} and {fmt(high)}"
    else:
        parts = []
        if low is not None:
            parts.append(f"greater than {fmt(low)}" if low_open else f"of at least {fmt(low)}")
        if high is not None:
            parts.append(f"less than {fmt(high)}" if high_open else f"of at most {fmt(high)}")
        rule = (" " + " and ".join(parts)) if parts else ""
    return f"{name} must be {kind}{rule}{_got(value)}"


def _got(value: Any) -> str:
    """What was written, for the end of a message (YAML spelling: true, not True)."""
    if value is None:
        return " (got nothing)"
    if isinstance(value, bool):
        return f" (got {str(value).lower()})"
    if isinstance(value, str | int | float):
        return f" (got {value!r})"
    return ""
