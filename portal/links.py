"""Building portal links: what notifications (and operators) put in front of a participant.

    link_for(settings, participant_id, pairing_id, "log_session", expires_at, ref=3)
    -> "http://127.0.0.1:8088/a/k1.eyJ...<signature>"

The keys are read from the settings (``TANDEM_PORTAL_KEYS`` or the key file, created on first use
like the codec's); a key file is re-read when it changes, so a rotation needs no restart.
"""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from portal.tokens import ACTIONS, Grant, PortalKeys, load_portal_keys, new_nonce, sign
from tandem.settings import Settings

# A notice's action (domain.notifications.Action) is the portal action of the same name.
NOTICE_ACTIONS = {a: a for a in ACTIONS}

_cache: dict[tuple[str | None, Path, str | None], tuple[float, PortalKeys]] = {}


def portal_keys(settings: Settings, *, create: bool = True) -> PortalKeys:
    """The portal's key ring for these settings (cached; a changed key file is read again)."""
    salt = os.environ.get("TANDEM_PORTAL_FEEDBACK_SALT") or None
    path = settings.portal_key_path
    cache_key = (settings.portal_keys, path, salt)
    try:
        mtime = path.stat().st_mtime if not settings.portal_keys else 0.0
    except FileNotFoundError:
        mtime = -1.0
    hit = _cache.get(cache_key)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    keys = load_portal_keys(settings.portal_keys, path, salt, create=create)
    if mtime == -1.0:
        mtime = path.stat().st_mtime
    _cache[cache_key] = (mtime, keys)
    return keys


def token_for(
    settings: Settings,
    participant_id: str,
    pairing_id: str,
    action: str,
    expires_at: datetime,
    ref: int | None = None,
    nonce: str | None = None,
) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown portal action {action!r}; one of {', '.join(ACTIONS)}")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    grant = Grant(
        participant_id=participant_id,
        pairing_id=pairing_id,
        action=action,
        expires_at=int(expires_at.timestamp()),
        nonce=nonce or new_nonce(),
        ref=ref,
    )
    return sign(portal_keys(settings), grant)


def link_for(
    settings: Settings,
    participant_id: str,
    pairing_id: str,
    action: str,
    expires_at: datetime,
    ref: int | None = None,
    nonce: str | None = None,
) -> str:
    """A signed link that lets ``participant_id`` do ``action`` on ``pairing_id`` until ``expires_at``."""
    token = token_for(settings, participant_id, pairing_id, action, expires_at, ref, nonce)
    return f"{settings.portal_base_url}/a/{token}"


class _NoticeLike(Protocol):
    key: str
    pairing_id: str
    participant_id: str | None
    action: str | None
    ref: int | None


def link_for_notice(settings: Settings, notice: _NoticeLike, now: datetime | None = None) -> str | None:
    """The link a notice carries: None for the operator's notices and for notices asking nothing.

    The nonce comes from the notice's key, so the same notice issued at the same ``now`` gets the
    same link: a message resent by the outbox is identical to the first attempt.
    """
    if notice.participant_id is None or notice.action not in NOTICE_ACTIONS:
        return None
    expires = (now or datetime.now(UTC)) + timedelta(days=settings.portal_link_days)
    ref = notice.ref if notice.action == "log_session" else None
    action = NOTICE_ACTIONS[notice.action]
    nonce = base64.urlsafe_b64encode(hashlib.sha256(notice.key.encode()).digest()[:12]).decode().rstrip("=")
    return link_for(settings, notice.participant_id, notice.pairing_id, action, expires, ref, nonce)
