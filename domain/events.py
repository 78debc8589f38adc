"""The event envelope, deterministic event ids and the upcaster registry.

Every aggregate's events share one envelope: ``event_id`` is derived from stream and version (never
random, so a retried or replayed decision produces the very same id), ``occurred_at`` is given by the
caller (``workflow.now()`` inside a workflow) and ``payload`` is a typed, immutable pydantic model.
Payload classes register themselves by ``TYPE``; stored payloads of an older ``SCHEMA_VERSION`` are
upcast on load, so events written years ago still fold into today's state.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, SerializeAsAny, model_validator

EVENT_NAMESPACE = uuid.UUID("5b0c5d1e-6c3a-4c55-9a57-7d1f3e0a2b11")
"""Namespace of the uuid5 event ids. Changing it would change every id: never do."""


class UnknownEventType(ValueError):
    pass


class EventPayload(BaseModel):
    """Base of every event payload. Subclasses set ``TYPE`` and, when their shape changes, bump
    ``SCHEMA_VERSION`` and register an upcaster from the previous version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        type_name = cls.__dict__.get("TYPE")
        if type_name is not None:
            existing = _PAYLOADS.get(type_name)
            if existing is not None and existing.__qualname__ != cls.__qualname__:
                raise TypeError(f"event type {type_name!r} registered twice")
            _PAYLOADS[type_name] = cls


_PAYLOADS: dict[str, type[EventPayload]] = {}
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning a stored payload of ``from_version`` into ``from_version + 1``."""

    def register(fn: Upcaster) -> Upcaster:
        key = (type_name, from_version)
        if key in _UPCASTERS:
            raise TypeError(f"upcaster for {type_name} v{from_version} registered twice")
        _UPCASTERS[key] = fn
        return fn

    return register


def payload_class(type_name: str) -> type[EventPayload]:
    try:
        return _PAYLOADS[type_name]
    except KeyError:
        raise UnknownEventType(f"unknown event type {type_name!r}") from None


def event_types() -> dict[str, type[EventPayload]]:
    return dict(_PAYLOADS)


def upcast(type_name: str, schema_version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """Bring a stored payload up to the current schema of its type."""
    cls = payload_class(type_name)
    if schema_version > cls.SCHEMA_VERSION:
        raise ValueError(
            f"{type_name} stored with schema v{schema_version}, newer than this code's v{cls.SCHEMA_VERSION}"
        )
    data = dict(payload)
    version = schema_version
    while version < cls.SCHEMA_VERSION:
        step = _UPCASTERS.get((type_name, version))
        if step is None:
            raise ValueError(f"no upcaster for {type_name} from schema v{version}")
        data = step(data)
        version += 1
    return data


_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes


def event_id_for(stream_id: str, version: int) -> str:
    """``str(uuid.uuid5(EVENT_NAMESPACE, f"{stream_id}/{version}"))``, spelled out: every decided
    event takes one inside a workflow task, and the ``UUID`` object's arithmetic cost 2.5 times the
    hash itself. The tests check both give the same id."""
    digest = hashlib.sha1(_NAMESPACE_BYTES + f"{stream_id}/{version}".encode()).digest()
    # RFC 4122: version 5 in the high nibble of byte 6, the variant in the high bits of byte 8
    marked = digest[:6] + bytes(((digest[6] & 0x0F) | 0x50, digest[7], (digest[8] & 0x3F) | 0x80))
    h = (marked + digest[9:16]).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class EventEnvelope(BaseModel):
    """What every event carries besides its payload. ``Event`` holds the payload typed; the rows a
    publish carries to the store (``activities.models.EventRow``) hold it as JSON."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    stream_id: str
    version: int
    type: str
    schema_version: int
    occurred_at: AwareDatetime

    def _check_envelope(self, current_schema: int) -> None:
        """Raise unless the event is at its type's ``current_schema`` and numbered from 1."""
        if self.schema_version != current_schema:
            # stored as is, it would be upcast again on load and silently corrupted
            raise ValueError(
                f"event schema v{self.schema_version} does not match {self.type} v{current_schema}"
            )
        if self.version < 1:
            raise ValueError("event versions start at 1")


class Event(EventEnvelope):
    """One immutable fact in one stream."""

    payload: SerializeAsAny[EventPayload]

    @model_validator(mode="before")
    @classmethod
    def _load_payload(cls, data: Any) -> Any:
        """Accept stored rows and JSON: resolve the payload class by type, upcasting old schemas."""
        if not isinstance(data, dict):
            return data
        raw = data.get("payload")
        if isinstance(raw, EventPayload):
            return data
        if isinstance(raw, dict):
            type_name = data.get("type") or raw.get("type")
            if not isinstance(type_name, str):
                raise ValueError("event has no type")
            stored = int(data.get("schema_version") or 1)
            body = {k: v for k, v in raw.items() if k != "type"}
            target = payload_class(type_name)
            return {
                **data,
                "type": type_name,
                "schema_version": target.SCHEMA_VERSION,
                "payload": target.model_validate(upcast(type_name, stored, body)),
            }
        return data

    @model_validator(mode="after")
    def _check_consistency(self) -> Event:
        if self.type != self.payload.TYPE:
            raise ValueError(f"event type {self.type!r} does not match payload {self.payload.TYPE!r}")
        self._check_envelope(self.payload.SCHEMA_VERSION)
        return self

    def payload_json(self) -> dict[str, Any]:
        """The payload as plain JSON data, the form stored in the event store."""
        return self.payload.model_dump(mode="json")


def stamp(stream_id: str, after_version: int, payloads: Iterable[EventPayload], now: datetime) -> list[Event]:
    """Wrap freshly decided payloads into events numbered after the stream's current version."""
    events: list[Event] = []
    for offset, payload in enumerate(payloads, start=1):
        version = after_version + offset
        events.append(
            Event(
                event_id=event_id_for(stream_id, version),
                stream_id=stream_id,
                version=version,
                type=payload.TYPE,
                schema_version=payload.SCHEMA_VERSION,
                occurred_at=now,
                payload=payload,
            )
        )
    return events


def check_sequence(events: Sequence[Event], stream_id: str, after_version: int = 0) -> None:
    """Raise unless ``events`` continue ``stream_id`` right after ``after_version`` with no gap."""
    expected = after_version + 1
    for event in events:
        if event.stream_id != stream_id:
            raise ValueError(f"event of stream {event.stream_id!r} in stream {stream_id!r}")
        if event.version != expected:
            raise ValueError(f"stream {stream_id!r}: expected version {expected}, got {event.version}")
        expected += 1
