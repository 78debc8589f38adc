"""Payload encryption: round trip, rotation, refusal of unknown keys, and a real history without plaintext."""

from __future__ import annotations

import asyncio
import base64
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.worker import Worker

from domain.pairing import AddNote, AgreeGoals, Goal, ProposeGoals
from domain.program import ProgramConfig
from domain.roster import Role
from eventstore import EventStore
from tandem import operations
from tandem.codec import (
    COMPRESSION,
    CodecKeyError,
    EncryptionCodec,
    KeyRing,
    generate_key_file,
    load_keys,
)
from tests.workflows.helpers import new_pairing_input, person, start_pairing
from workflows.pairing import ActionResult, PairingWorkflow


def _ring(*ids: str) -> KeyRing:
    return KeyRing.of([(key_id, secrets.token_bytes(32)) for key_id in ids])


async def test_round_trip_and_ciphertext_differs() -> None:
    codec = EncryptionCodec(_ring("k1"))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"email":"ada@example.com"}')
    (sealed,) = await codec.encode([plain])
    assert b"ada@example.com" not in sealed.data and sealed.metadata["encryption-key-id"] == b"k1"
    assert await codec.decode([sealed]) == [plain]
    (again,) = await codec.encode([plain])
    assert again.data != sealed.data  # fresh nonce every time


async def test_rotation_new_payloads_use_newest_key_old_ones_still_decrypt() -> None:
    old = _ring("k1")
    (sealed_old,) = await EncryptionCodec(old).encode([Payload(data=b"x")])
    rotated = KeyRing.of([("k1", old.keys["k1"]), ("k2", secrets.token_bytes(32))])
    codec = EncryptionCodec(rotated)
    (sealed_new,) = await codec.encode([Payload(data=b"y")])
    assert sealed_new.metadata["encryption-key-id"] == b"k2"
    assert [p.data for p in await codec.decode([sealed_old, sealed_new])] == [b"x", b"y"]


async def test_unknown_key_and_tampering_are_refused() -> None:
    (sealed,) = await EncryptionCodec(_ring("k1")).encode([Payload(data=b"x")])
    with pytest.raises(CodecKeyError, match="unknown key 'k1'"):
        await EncryptionCodec(_ring("k9")).decode([sealed])
    ring = _ring("k1")
    (sealed,) = await EncryptionCodec(ring).encode([Payload(data=b"x")])
    tampered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        await EncryptionCodec(ring).decode([tampered])


async def test_large_payloads_are_compressed_then_sealed_small_ones_only_sealed() -> None:
    codec = EncryptionCodec(_ring("k1"))
    events = (
        b"[" + b",".join(b'{"type":"SessionHeld","payload":{"session":%d}}' % n for n in range(60)) + b"]"
    )
    big = Payload(metadata={"encoding": b"json/plain"}, data=events)
    small = Payload(metadata={"encoding": b"json/plain"}, data=b'{"session":1}')
    sealed_big, sealed_small = await codec.encode([big, small])
    assert sealed_big.metadata[COMPRESSION] == b"zlib" and len(sealed_big.data) < len(events) / 4
    assert COMPRESSION not in sealed_small.metadata
    assert await codec.decode([sealed_big, sealed_small]) == [big, small]


async def test_compression_mark_is_authenticated_and_unknown_methods_refused() -> None:
    codec = EncryptionCodec(_ring("k1"))
    (sealed,) = await codec.encode([Payload(data=b"x" * 1000)])
    unmarked = Payload(
        metadata={k: v for k, v in sealed.metadata.items() if k != COMPRESSION}, data=sealed.data
    )
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag: the mark is bound in
        await codec.decode([unmarked])
    (small,) = await codec.encode([Payload(data=b"x")])
    marked = Payload(metadata={**small.metadata, COMPRESSION: b"zlib"}, data=small.data)
    with pytest.raises(Exception):  # noqa: B017
        await codec.decode([marked])
    odd = Payload(metadata={**sealed.metadata, COMPRESSION: b"brotli"}, data=sealed.data)
    with pytest.raises(CodecKeyError, match="unknown method b'brotli'"):
        await codec.decode([odd])


async def test_payloads_sealed_before_compression_still_decrypt() -> None:
    """History written by the codec before it compressed: no mark, the key id alone authenticated."""
    ring = _ring("k1")
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b"{}" * 500)
    nonce = secrets.token_bytes(12)
    old = AESGCM(ring.keys["k1"]).encrypt(nonce, plain.SerializeToString(), b"k1")
    sealed = Payload(metadata={"encoding": b"binary/encrypted", "encryption-key-id": b"k1"}, data=nonce + old)
    assert await EncryptionCodec(ring).decode([sealed]) == [plain]


async def test_plaintext_payloads_pass_through() -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b"1")
    assert await EncryptionCodec(_ring("k1")).decode([plain]) == [plain]


async def test_none_is_not_sealed() -> None:
    """None holds no data, and the server reads only a plain null as "remove this memo entry"."""
    null = Payload(metadata={"encoding": b"binary/null"})
    codec = EncryptionCodec(_ring("k1"))
    assert await codec.encode([null]) == [null]
    assert await codec.decode([null]) == [null]


def test_key_loading(tmp_path: Path) -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    assert load_keys(f"a:{key},b:{key}", None).current == "b"
    with pytest.raises(CodecKeyError, match="no payload encryption key"):
        load_keys(None, tmp_path / "missing.json")
    with pytest.raises(CodecKeyError, match="32"):
        load_keys("a:" + base64.b64encode(b"short").decode(), None)
    with pytest.raises(CodecKeyError, match="id:base64key"):
        load_keys("just-a-key", None)
    path = generate_key_file(tmp_path / "keys.json")
    assert path.stat().st_mode & 0o077 == 0  # owner only
    assert len(load_keys(None, path).keys["k1"]) == 32


async def test_history_holds_no_plaintext_personal_data(client: Client, worker: Worker) -> None:
    goal_title = f"Learn to run a blameless retro {secrets.token_hex(4)}"
    inp = new_pairing_input()
    handle, _ = await start_pairing(client, worker.task_queue, inp, skip=False)
    try:
        goals = (Goal(title=goal_title, signal="two retros run"),)
        for side in ("mentor", "mentee"):
            await handle.execute_update(
                "propose_goals", ProposeGoals(side=side, goals=goals), result_type=ActionResult
            )
        for side in ("mentor", "mentee"):
            await handle.execute_update(
                "agree_goals", AgreeGoals(side=side, goals=goals), result_type=ActionResult
            )
        note = f"Reach the mentee at grace.{secrets.token_hex(3)}@example.com before the retro"
        await handle.execute_update(
            "add_note", AddNote(author="operator", text=note), result_type=ActionResult
        )
        raw = (await handle.fetch_history()).to_json()
        assert goal_title not in raw
        assert note not in raw and note.split()[4] not in raw  # the note, and the email in it
        assert base64.b64encode(goal_title.encode()).decode()[:16] not in raw
        state = await handle.query(PairingWorkflow.query_state)  # an authorised client still reads it
        assert state.goals[0].title == goal_title
    finally:
        await handle.terminate("test finished")


async def test_program_histories_hold_no_participant_email_or_name(
    client: Client, worker: Worker, store: EventStore
) -> None:
    """A whole simulated program: neither its history nor any pairing's holds a roster email or name."""
    program_id = f"prog-{secrets.token_hex(4)}"
    people = [person(program_id, n, role) for n in range(2) for role in (Role.MENTOR, Role.MENTEE)]
    inputs = operations.Inputs(config=ProgramConfig(id=program_id, name="privacy"), participants=people)
    _, specs = operations.plan(inputs)
    version = await operations.enrol(store, inputs, specs)
    handle = await operations.start_program(
        client, worker.task_queue, inputs, specs, version, simulation_seed=3, time_skipping=True
    )
    summary = await handle.result()
    query = f'ProgramId = "{program_id}" AND WorkflowType = "PairingWorkflow"'
    for _ in range(100):  # visibility is eventually consistent
        children = [e async for e in client.list_workflows(query)]
        if len(children) >= summary.pairings:
            break
        await asyncio.sleep(0.1)
    assert len(children) >= summary.pairings
    histories = [(await handle.fetch_history()).to_json()]
    for execution in children:
        child = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        histories.append((await child.fetch_history()).to_json())
    for raw in histories:
        for someone in people:
            assert someone.email not in raw and someone.name not in raw
            assert someone.email.split("@")[0] + "@" not in raw
