"""Payload encryption: names, goals and notes never sit in plaintext in Temporal's history.

AES-256-GCM per payload, with the key id in the payload's metadata. New payloads use the newest key;
every listed key still decrypts, so keys rotate by adding a new one at the end and removing an old
one only once no history still needs it. Payloads without our encoding pass through untouched
(histories written before encryption was enabled still replay), and so does None, which holds no data
(sealed, the server would not read it as None: a memo entry set to None would stay, sealed).

Payloads of COMPRESS_FROM bytes or more are zlib-compressed before they are sealed (marked in the
metadata, and bound into the authenticated data so the mark cannot be flipped): a pairing's events
and notices are repetitive JSON, and compression took a simulated pairing's history from ~78 KB to
~33 KB. Payloads sealed before compression existed carry no mark and still decrypt. (Compressing
before encrypting lets ciphertext length depend on how repetitive the content is; history is
readable only by Temporal operators, and a payload mixes little that an outsider controls.)

Keys come from ``TANDEM_CODEC_KEYS`` (``id:base64key,id:base64key``, newest last) or the JSON file
named by ``TANDEM_CODEC_KEY_FILE`` (``{"keys": [{"id": ..., "key": base64}, ...]}``, newest last),
never from the repository.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
NULL = b"binary/null"  # the data converter's None: no data, so nothing to seal
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
COMPRESSION = "compression"
ZLIB = b"zlib"
COMPRESS_FROM = 256  # smaller payloads (ids, flags, counts) gain nothing


class CodecKeyError(RuntimeError):
    """Missing or malformed encryption keys, or a payload sealed in a way we cannot open; one line."""


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, bytes]
    current: str

    @classmethod
    def of(cls, pairs: Sequence[tuple[str, bytes]]) -> KeyRing:
        if not pairs:
            raise CodecKeyError("no payload encryption key configured")
        keys: dict[str, bytes] = {}
        for key_id, key in pairs:
            if not key_id or any(c in key_id for c in ",: \n"):
                raise CodecKeyError(f"bad key id {key_id!r}")
            if len(key) != 32:
                raise CodecKeyError(f"key {key_id!r} is {len(key)} bytes; AES-256 needs 32")
            keys[key_id] = key
        return cls(keys=keys, current=pairs[-1][0])


def generate_key_file(path: Path, key_id: str = "k1") -> Path:
    """Create a key file readable by its owner only (used by the local stack on first start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"keys": [{"id": key_id, "key": base64.b64encode(secrets.token_bytes(32)).decode()}]}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle)
    return path


def load_keys(keys_env: str | None, key_file: Path | None) -> KeyRing:
    if keys_env:
        pairs = []
        for item in keys_env.split(","):
            key_id, sep, encoded = item.strip().partition(":")
            if not sep:
                raise CodecKeyError("TANDEM_CODEC_KEYS must look like id:base64key[,id:base64key]")
            pairs.append((key_id, _decode(encoded, key_id)))
        return KeyRing.of(pairs)
    if key_file is None or not key_file.exists():
        raise CodecKeyError(
            "no payload encryption key: set TANDEM_CODEC_KEYS or TANDEM_CODEC_KEY_FILE "
            f"(the local stack creates {key_file or '.tandem/codec-keys.json'} on its first start)"
        )
    try:
        document = json.loads(key_file.read_text())
        return KeyRing.of([(k["id"], _decode(k["key"], k["id"])) for k in document["keys"]])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CodecKeyError(f"cannot read encryption keys from {key_file}: {exc}") from None


def _decode(encoded: str, key_id: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        raise CodecKeyError(f"key {key_id!r} is not valid base64") from None


class EncryptionCodec(PayloadCodec):
    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self.ring.current
        cipher = self._ciphers[key_id]
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding") == NULL:
                out.append(payload)  # holds nothing; and only a plain null removes a memo entry
                continue
            nonce = secrets.token_bytes(NONCE_BYTES)
            plain = payload.SerializeToString()
            metadata = {"encoding": ENCODING, KEY_ID: key_id.encode()}
            if len(plain) >= COMPRESS_FROM:
                plain = zlib.compress(plain, 1)  # level 1: most of the gain on JSON, least CPU
                metadata[COMPRESSION] = ZLIB
            sealed = cipher.encrypt(nonce, plain, _bound(key_id, metadata.get(COMPRESSION)))
            out.append(Payload(metadata=metadata, data=nonce + sealed))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                out.append(payload)
                continue
            key_id = payload.metadata.get(KEY_ID, b"").decode()
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise CodecKeyError(f"payload encrypted with unknown key {key_id!r}; add it to the key ring")
            nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
            compression = payload.metadata.get(COMPRESSION)
            if compression not in (None, ZLIB):
                raise CodecKeyError(f"payload compressed with unknown method {compression!r}")
            plain = cipher.decrypt(nonce, sealed, _bound(key_id, compression))
            out.append(Payload.FromString(zlib.decompress(plain) if compression else plain))
        return out


def _bound(key_id: str, compression: bytes | None) -> bytes:
    """The authenticated data of a sealed payload: its key id, and its compression if any."""
    return key_id.encode() + (b"|" + compression if compression else b"")
