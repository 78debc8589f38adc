"""Tokens and keys without a server: scope, expiry, tampering, rotation; and the feedback aggregate."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.errors import DuplicateSubmission, RuleViolation
from domain.feedback import (
    GiveFeedback,
    decide_feedback,
    evolve_feedback,
    initial_feedback,
    summarize_feedback,
)
from portal.links import link_for, link_for_notice, portal_keys
from portal.tokens import (
    ExpiredToken,
    Grant,
    InvalidToken,
    PortalKeyError,
    PortalKeys,
    load_portal_keys,
    new_nonce,
    respondent_key,
    rotate_key_file,
    sign,
    verify,
)
from tandem.settings import Settings

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
K1 = b"1" * 32
K2 = b"2" * 32


def grant(**changes: object) -> Grant:
    base: dict[str, object] = {
        "participant_id": "p0123456789ab",
        "pairing_id": "rm.pa.pb",
        "action": "log_session",
        "expires_at": int((NOW + timedelta(days=7)).timestamp()),
        "nonce": new_nonce(),
        "ref": 2,
    }
    return Grant(**{**base, **changes})  # type: ignore[arg-type]


def ring(*pairs: tuple[str, bytes]) -> PortalKeys:
    return PortalKeys.of(list(pairs))


def test_a_token_carries_exactly_its_grant() -> None:
    keys = ring(("k1", K1))
    g = grant()
    got = verify(keys, sign(keys, g), NOW)
    assert (got.participant_id, got.pairing_id, got.action, got.ref, got.expires_at, got.nonce) == (
        g.participant_id,
        g.pairing_id,
        g.action,
        g.ref,
        g.expires_at,
        g.nonce,
    )
    assert got.key_id == "k1"


def test_expiry_is_signed_in_and_checked() -> None:
    keys = ring(("k1", K1))
    token = sign(keys, grant(expires_at=int(NOW.timestamp()) + 60))
    assert verify(keys, token, NOW + timedelta(seconds=59))
    with pytest.raises(ExpiredToken):
        verify(keys, token, NOW + timedelta(seconds=60))


def _reb64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_any_change_to_a_token_invalidates_it() -> None:
    keys = ring(("k1", K1))
    token = sign(keys, grant())
    key_id, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = [
        # every single-character change anywhere in the token
        *(
            token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
            for i in range(len(token))
            if token[i] != "."
        ),
        # a longer expiry, another pairing, another person, another action: same signature
        f"{key_id}.{_reb64({**body, 'e': body['e'] + 86400 * 365})}.{signature}",
        f"{key_id}.{_reb64({**body, 'g': 'rm.other.pair'})}.{signature}",
        f"{key_id}.{_reb64({**body, 'p': 'p999999999999'})}.{signature}",
        f"{key_id}.{_reb64({**body, 'a': 'feedback'})}.{signature}",
        # signed with a key we do not have, under our key's id
        sign(ring(("k1", b"x" * 32)), grant()),
        "",
        "..",
        "k1..",
        token + ".",
        "k1." + "A" * 2000 + "." + signature,
        "k1,k2." + payload + "." + signature,
        "../etc/passwd",
        # the signature's last character differing only in base64's spare bits: same bytes, other token
        *(
            token[:-1] + c
            for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            if c != token[-1]
        ),
    ]
    for bad in forged:
        with pytest.raises(InvalidToken):
            verify(keys, bad, NOW)


def test_a_validly_signed_token_with_a_bad_body_is_refused_too() -> None:
    import hmac

    from portal.tokens import _mac

    keys = ring(("k1", K1))
    for body in (
        {"p": "x"},
        {"p": 1, "g": "g", "a": "fit_check", "e": 1, "n": "n"},
        [1, 2],
        {"p": "x", "g": "g", "a": "rm -rf", "e": 9e9, "n": "n"},
    ):
        payload = _reb64(body)
        token = f"k1.{payload}.{base64.urlsafe_b64encode(_mac(K1, 'k1', payload)).rstrip(b'=').decode()}"
        assert hmac.compare_digest(token.split(".")[2], token.split(".")[2])
        with pytest.raises(InvalidToken):
            verify(keys, token, NOW)


def test_rotation_keeps_old_links_working_and_signs_with_the_newest_key() -> None:
    old = ring(("k1", K1))
    sent_last_week = sign(old, grant())
    rotated = ring(("k1", K1), ("k2", K2))
    assert verify(rotated, sent_last_week, NOW).key_id == "k1"
    fresh = sign(rotated, grant())
    assert fresh.startswith("k2.") and verify(rotated, fresh, NOW).key_id == "k2"
    retired = ring(("k2", K2))  # k1 removed once its links expired
    with pytest.raises(InvalidToken):
        verify(retired, sent_last_week, NOW)


def test_key_files_are_made_rotated_and_reread(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, portal_url="https://portal.example.com/")
    link = link_for(settings, "p1", "rm.a.b", "fit_check", NOW + timedelta(days=1))
    assert link.startswith("https://portal.example.com/a/k1.")
    path = tmp_path / "portal-keys.json"
    assert path.stat().st_mode & 0o777 == 0o600
    salt_before = portal_keys(settings).feedback_salt
    assert rotate_key_file(path) == "k2"
    keys = portal_keys(settings)  # re-read: the file changed
    assert keys.current == "k2" and set(keys.keys) == {"k1", "k2"}
    assert keys.feedback_salt == salt_before  # rotation never changes who counts as the same respondent
    assert verify(keys, link.rsplit("/", 1)[1], NOW).key_id == "k1"
    assert (
        link_for(settings, "p1", "rm.a.b", "fit_check", NOW + timedelta(days=1))
        .split("/a/")[1]
        .startswith("k2.")
    )


def test_keys_from_the_environment_and_bad_keys() -> None:
    k1 = base64.b64encode(K1).decode()
    k2 = base64.b64encode(K2).decode()
    keys = load_portal_keys(f"k1:{k1},k2:{k2}", None)
    assert keys.current == "k2"
    assert respondent_key(keys, "prog", "p1") == respondent_key(
        load_portal_keys(f"k1:{k1}", None), "prog", "p1"
    )
    for bad in ("k1", f"k1:{base64.b64encode(b'short').decode()}", "k1:not base64!", f"bad id:{k1}"):
        with pytest.raises(PortalKeyError):
            load_portal_keys(bad, None)
    with pytest.raises(PortalKeyError):
        load_portal_keys(None, Path("/nonexistent/portal-keys.json"))


def test_links_for_notices() -> None:
    from domain.notifications import Notice

    settings = Settings(portal_keys=f"k1:{base64.b64encode(K1).decode()}", portal_port=9999)
    notice = Notice(
        key="x", program_id="rm", pairing_id="rm.a.b", recipient="mentor", participant_id="p1",
        template="checkin_request", action="log_session", ref=3, summary="How did session 3 go?",
    )  # fmt: skip
    link = link_for_notice(settings, notice, NOW)
    assert link is not None and link.startswith("http://127.0.0.1:9999/a/")
    got = verify(portal_keys(settings), link.rsplit("/", 1)[1], NOW)
    assert (got.participant_id, got.pairing_id, got.action, got.ref) == ("p1", "rm.a.b", "log_session", 3)
    assert got.expires == NOW + timedelta(days=settings.portal_link_days)
    assert (
        link_for_notice(settings, notice.model_copy(update={"participant_id": None, "recipient": "operator"}))
        is None
    )
    assert link_for_notice(settings, notice.model_copy(update={"action": None})) is None
    with pytest.raises(ValueError, match="unknown portal action"):
        link_for(settings, "p1", "rm.a.b", "delete_everything", NOW)


# -- anonymous feedback (pure domain) ----------------------------------------------------------------


def test_feedback_once_per_respondent_in_range_and_withheld_below_five() -> None:
    state = initial_feedback("rm")
    answers = [
        ("ra00000001", 5, 4, "More time"),
        ("ra00000002", 4, 4, ""),
        ("ra00000003", 2, 1, "Felt unsafe"),
    ]
    for respondent, useful, safe, comment in answers:
        cmd = GiveFeedback(respondent=respondent, usefulness=useful, safe_to_speak=safe, comment=comment)
        for event in decide_feedback(state, cmd, NOW):
            state = evolve_feedback(state, event)
    with pytest.raises(DuplicateSubmission):
        decide_feedback(state, GiveFeedback(respondent="ra00000001", usefulness=1, safe_to_speak=1), NOW)
    with pytest.raises(RuleViolation, match="usefulness is rated from 1 to 5, not 6"):
        decide_feedback(state, GiveFeedback(respondent="ra00000009", usefulness=6, safe_to_speak=1), NOW)
    summary = summarize_feedback(state)
    assert (
        summary.withheld
        and summary.responses == 3
        and summary.comments == ()
        and summary.usefulness_mean is None
    )
    for i in (4, 5):
        cmd = GiveFeedback(respondent=f"ra0000000{i}", usefulness=3, safe_to_speak=3, comment=f"z{i}")
        for event in decide_feedback(state, cmd, NOW):
            state = evolve_feedback(state, event)
    summary = summarize_feedback(state)
    assert not summary.withheld and summary.responses == 5
    assert summary.usefulness_mean == 3.4 and summary.usefulness_counts == (0, 1, 2, 1, 1)
    assert summary.comments == ("Felt unsafe", "More time", "z4", "z5")  # sorted: order says nothing
