"""Signed, expiring portal tokens: who may do what on which pairing, until when.

A token is ``<key id>.<payload>.<signature>``: the payload is compact JSON (base64url) naming the
participant, the pairing, the action, an optional reference (a session number), the expiry (Unix
seconds) and a random nonce; the signature is HMAC-SHA256 over key id and payload with the key the
id names. Nothing in the token is secret (ids only, no names or emails); everything in it is
authenticated, so changing any character makes the token invalid.

HMAC-SHA256 from the standard library (``hmac``/``hashlib``, constant-time ``compare_digest``):
twenty lines, no dependency to keep up, and no format choices left to a library (itsdangerous would
do, but its expiry lives in the verifier's ``max_age``; ours is signed into the token).

Keys rotate: new tokens are signed with the newest key, every listed key still verifies, so a link
sent last week works until it expires. Remove a key only once the longest link lifetime has passed
since it stopped being the newest. Keys come from ``TANDEM_PORTAL_KEYS`` (``id:base64key,...``,
newest last) or a JSON file (``{"keys": [{"id", "key"}], "feedback_salt": ...}``, newest last).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, get_args

Action = Literal[
    "propose_goals", "agree_goals", "log_session", "fit_check", "midpoint", "closeout", "feedback"
]
ACTIONS: tuple[str, ...] = get_args(Action)
MAX_TOKEN_LENGTH = 1024
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_B64 = re.compile(r"^[A-Za-z0-9_-]+$")
_DOMAIN = b"tandem-portal/1\n"  # signatures made for this purpose only
MIN_KEY_BYTES = 32


class TokenError(Exception):
    """A token the portal refuses; ``reason`` is safe to show (it names no secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidToken(TokenError):
    """Malformed, tampered, or signed with a key we do not have."""


class ExpiredToken(TokenError):
    pass


class PortalKeyError(RuntimeError):
    """Missing or malformed portal keys, said in one line."""


@dataclass(frozen=True)
class PortalKeys:
    keys: dict[str, bytes]
    current: str
    feedback_salt: bytes  # keys the anonymous respondent ids of program feedback; never rotates

    @classmethod
    def of(cls, pairs: list[tuple[str, bytes]], feedback_salt: bytes | None = None) -> PortalKeys:
        if not pairs:
            raise PortalKeyError("no portal signing key configured")
        keys: dict[str, bytes] = {}
        for key_id, key in pairs:
            if not _KEY_ID.match(key_id):
                raise PortalKeyError(f"bad portal key id {key_id!r} (letters, digits, _ and -, at most 32)")
            if len(key) < MIN_KEY_BYTES:
                raise PortalKeyError(f"portal key {key_id!r}: {len(key)} bytes, fewer than {MIN_KEY_BYTES}")
            keys[key_id] = key
        salt = feedback_salt or hmac.new(pairs[0][1], b"tandem-portal/feedback-salt", hashlib.sha256).digest()
        return cls(keys=keys, current=pairs[-1][0], feedback_salt=salt)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not _B64.match(text):
        raise InvalidToken("this link is not valid")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("this link is not valid") from None


def _decode_key(encoded: str, key_id: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise PortalKeyError(f"portal key {key_id!r} is not valid base64") from None


# -- key files ------------------------------------------------------------------------------------


def generate_key_file(path: Path, key_id: str = "k1") -> Path:
    """A new key file readable by its owner only (the local stack makes one on first start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "keys": [{"id": key_id, "key": base64.b64encode(secrets.token_bytes(32)).decode()}],
        "feedback_salt": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle)
    return path


def rotate_key_file(path: Path) -> str:
    """Append a new newest key (old ones keep verifying); return its id."""
    document = json.loads(path.read_text())
    used = {k["id"] for k in document["keys"]}
    n = len(used) + 1
    while f"k{n}" in used:
        n += 1
    key_id = f"k{n}"
    document["keys"].append({"id": key_id, "key": base64.b64encode(secrets.token_bytes(32)).decode()})
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle)
    tmp.replace(path)
    return key_id


def load_portal_keys(
    keys_env: str | None, key_file: Path | None, salt_env: str | None = None, *, create: bool = False
) -> PortalKeys:
    salt = _decode_key(salt_env, "feedback salt") if salt_env else None
    if keys_env:
        pairs = []
        for item in keys_env.split(","):
            key_id, sep, encoded = item.strip().partition(":")
            if not sep:
                raise PortalKeyError("TANDEM_PORTAL_KEYS must look like id:base64key[,id:base64key]")
            pairs.append((key_id, _decode_key(encoded, key_id)))
        return PortalKeys.of(pairs, salt)
    if key_file is None:
        raise PortalKeyError("no portal keys: set TANDEM_PORTAL_KEYS or TANDEM_PORTAL_KEY_FILE")
    if not key_file.exists():
        if not create:
            raise PortalKeyError(
                f"no portal keys: set TANDEM_PORTAL_KEYS or TANDEM_PORTAL_KEY_FILE ({key_file} is missing)"
            )
        with contextlib.suppress(FileExistsError):  # created meanwhile by another process
            generate_key_file(key_file)
    try:
        document = json.loads(key_file.read_text())
        pairs = [(k["id"], _decode_key(k["key"], k["id"])) for k in document["keys"]]
        if salt is None and document.get("feedback_salt"):
            salt = _decode_key(document["feedback_salt"], "feedback salt")
        return PortalKeys.of(pairs, salt)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PortalKeyError(f"cannot read portal keys from {key_file}: {exc}") from None


# -- tokens ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """What a valid token allows: ``participant_id`` may do ``action`` on ``pairing_id``."""

    participant_id: str
    pairing_id: str
    action: str
    expires_at: int  # Unix seconds
    nonce: str
    ref: int | None = None
    key_id: str = ""

    @property
    def expires(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at, UTC)


def new_nonce() -> str:
    return _b64(secrets.token_bytes(12))


def sign(keys: PortalKeys, grant: Grant) -> str:
    if grant.action not in ACTIONS:
        raise ValueError(f"unknown portal action {grant.action!r}")
    body = {
        "p": grant.participant_id,
        "g": grant.pairing_id,
        "a": grant.action,
        "e": int(grant.expires_at),
        "n": grant.nonce,
    }
    if grant.ref is not None:
        body["r"] = int(grant.ref)
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    key_id = keys.current
    return f"{key_id}.{payload}.{_b64(_mac(keys.keys[key_id], key_id, payload))}"


def _mac(key: bytes, key_id: str, payload: str) -> bytes:
    return hmac.new(key, _DOMAIN + key_id.encode() + b"." + payload.encode(), hashlib.sha256).digest()


def verify(keys: PortalKeys, token: str, now: datetime) -> Grant:
    """The grant a token carries, or :class:`InvalidToken` / :class:`ExpiredToken`.

    The signature is checked before anything in the payload is read.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise InvalidToken("this link is not valid")
    key_id, payload, signature = token.split(".")
    if not _KEY_ID.match(key_id) or key_id not in keys.keys:
        raise InvalidToken("this link is not valid")
    mac = _unb64(signature)
    if _b64(mac) != signature:  # one spelling only: base64's spare bits must not make a second valid token
        raise InvalidToken("this link is not valid")
    if not hmac.compare_digest(mac, _mac(keys.keys[key_id], key_id, payload)):
        raise InvalidToken("this link is not valid")
    try:
        body = json.loads(_unb64(payload))
        grant = Grant(
            participant_id=_str(body["p"]),
            pairing_id=_str(body["g"]),
            action=_str(body["a"]),
            expires_at=_int(body["e"]),
            nonce=_str(body["n"]),
            ref=_int(body["r"]) if "r" in body else None,
            key_id=key_id,
        )
    except (ValueError, KeyError, TypeError):
        raise InvalidToken("this link is not valid") from None
    if grant.action not in ACTIONS:
        raise InvalidToken("this link is not valid")
    if now.timestamp() >= grant.expires_at:
        raise ExpiredToken("this link has expired")
    return grant


def _str(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValueError("not a string")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("not an integer")
    return value


def respondent_key(keys: PortalKeys, program_id: str, participant_id: str) -> str:
    """An anonymous, stable id for one participant's program feedback: it refuses a second answer
    without recording who answered (only the portal's salt links it back to a participant)."""
    message = f"{program_id}\x00{participant_id}".encode()
    return "r" + hmac.new(keys.feedback_salt, message, hashlib.sha256).hexdigest()[:32]
