"""A small program built event by event with the real domain, whose every report figure is known.

``play`` drives one pairing (``tests.domain.pairing_helpers.Driver``) through a :class:`Script`:
goals agreed after a number of days, then each session as it comes due takes the next scripted
outcome, the midpoint review and the closeout survey get the scripted answers. The script must match
the calendar exactly (a session with no scripted outcome, or an outcome left over, fails the build),
so the held and missed counts of the report are the counts of the scripts.

``fixture_program`` is the program of ``tests/report/test_report_numbers.py``; its figures are
computed by hand there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from activities.record import to_new_event
from domain.events import Event
from domain.leavers import Leaver, decide_leavers, leavers_state
from domain.pairing import (
    AnswerFitCheck,
    PairingTerms,
    SessionStatus,
    Stage,
    SubmitCloseout,
    SubmitMidpoint,
    Withdraw,
)
from domain.program import (
    CreateProgram,
    ProgramConfig,
    StartProgram,
    Target,
    decide_program,
    evolve_program,
    initial_program,
    program_stream,
)
from domain.roster import (
    EnrollParticipant,
    Participant,
    Role,
    decide_roster,
    evolve_roster,
    initial_roster,
    participant_id_for,
)
from eventstore import EventStore
from tests.domain.pairing_helpers import GOALS, Driver, terms

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)  # the program starts (and every pairing with it)
TERMS: PairingTerms = terms(duration="P2M")  # 59 days: Jan 4 -> Mar 4; cadence P2W, first session P1W
PRIVATE = "PRIVATE-NOTE"  # every held check-in carries a private note containing this
TOPIC = "SECRET-TOPIC"


@dataclass(frozen=True)
class Closeout:
    attainment: tuple[int, int]
    recommend: int
    satisfaction: int
    takeaways: str = ""


@dataclass(frozen=True)
class Script:
    """One pairing's story. Sessions: ``"H54"`` held, rated 5 by the mentor and 4 by the mentee;
    ``"M"`` missed (the mentor reports it); ``"W"`` the mentee withdraws when this session comes due."""

    agree_after_days: float | None
    sessions: Sequence[str] = ()
    midpoint: tuple[tuple[int, int, tuple[int, int]], tuple[int, int, tuple[int, int]]] | None = None
    closeout: tuple[Closeout, Closeout] | None = None  # (mentor, mentee)
    fit_check: tuple[bool, bool] | None = None  # (mentor, mentee) wants a new partner, after session 1
    names: tuple[str, str] = ("", "")


@dataclass
class Built:
    program_id: str
    events: list[Event] = field(default_factory=list)
    people: list[Participant] = field(default_factory=list)
    pairing_ids: list[str] = field(default_factory=list)

    async def append(self, store: EventStore) -> None:
        by_stream: dict[str, list[Event]] = {}
        for event in self.events:
            by_stream.setdefault(event.stream_id, []).append(event)
        for stream_id, events in by_stream.items():
            await store.append(stream_id, events[0].version - 1, [to_new_event(e) for e in events])


def person(program_id: str, name: str, role: Role) -> Participant:
    email = name.lower().replace(" ", ".") + "@example.com"
    return Participant(
        participant_id=participant_id_for(program_id, email),
        email=email,
        name=name,
        role=role,
        title="title",
        department="dept",
        level=2 if role is Role.MENTOR else 8,
        communication_style="direct",
        timezone="Europe/London",
    )


def play(
    pairing_id: str,
    program_id: str,
    mentor: Participant,
    mentee: Participant,
    script: Script,
    start: datetime = T0,
) -> Driver:
    d = Driver(TERMS, start=start, started=False, pairing_id=pairing_id)
    from domain.pairing import ProposePairing, StartPairing

    d.do(
        ProposePairing(
            pairing_id=pairing_id,
            program_id=program_id,
            mentor_id=mentor.participant_id,
            mentee_id=mentee.participant_id,
        )
    )
    d.do(StartPairing(terms=TERMS))
    if script.agree_after_days is not None:
        d.run_until(start + timedelta(days=script.agree_after_days))
        d.agree(GOALS)
    outcomes = list(script.sessions)
    for _ in range(500):
        if d.state.stage is Stage.CLOSED:
            break
        fired = d.step()
        for event in fired:
            payload = event.payload
            if event.type == "ReminderDue" and payload.reminder == "checkin":  # type: ignore[attr-defined]
                assert outcomes, f"{pairing_id}: session {payload.ref} came due with no scripted outcome"  # type: ignore[attr-defined]
                _session(d, outcomes.pop(0), script)
            elif event.type == "MidpointReviewOpened" and script.midpoint is not None:
                for side, (relationship, safety, progress) in zip(
                    ("mentor", "mentee"), script.midpoint, strict=True
                ):
                    d.do(
                        SubmitMidpoint(
                            side=side,  # type: ignore[arg-type]
                            relationship=relationship,
                            psychological_safety=safety,
                            progress=progress,
                        )
                    )
            elif event.type == "CloseoutOpened" and script.closeout is not None:
                for side, answer in zip(("mentor", "mentee"), script.closeout, strict=True):
                    d.do(
                        SubmitCloseout(
                            side=side,  # type: ignore[arg-type]
                            attainment=answer.attainment,
                            would_recommend=answer.recommend,
                            satisfaction=answer.satisfaction,
                            takeaways=answer.takeaways,
                        )
                    )
            if d.state.stage is Stage.CLOSED:
                break
    assert d.state.stage is Stage.CLOSED, f"{pairing_id} did not close"
    assert not outcomes, f"{pairing_id}: scripted sessions left over: {outcomes}"
    return d


def _session(d: Driver, outcome: str, script: Script) -> None:
    if outcome == "W":
        d.do(Withdraw(side="mentee", reason="moved to another team"))
        return
    if outcome == "M":
        d.checkin("mentor", SessionStatus.MISSED)
        return
    assert outcome[0] == "H" and len(outcome) == 3, outcome
    first = d.state.held_sessions == 0
    d.checkin(
        "mentor",
        rating=int(outcome[1]),
        private_note=f"{PRIVATE} mentor {d.state.pairing_id}",
        topics=(TOPIC,),
    )
    d.checkin("mentee", rating=int(outcome[2]), private_note=f"{PRIVATE} mentee {d.state.pairing_id}")
    if first and script.fit_check is not None:
        for side, wants in zip(("mentor", "mentee"), script.fit_check, strict=True):
            d.do(AnswerFitCheck(side=side, wants_new_partner=wants))  # type: ignore[arg-type]


def build_program(
    program_id: str,
    name: str,
    scripts: Sequence[Script],
    *,
    targets: Sequence[Target] = (),
    leavers: Sequence[tuple[int, str, date]] = (),
    outsiders: Sequence[tuple[str, date]] = (),
    as_of: date | None = None,
    start: datetime = T0,
) -> Built:
    """The program's streams: program, roster (enrolments, then leavers as of ``as_of``) and one
    stream per pairing. ``leavers``: (pairing index, "mentor" | "mentee", left on)."""
    built = Built(program_id)
    config = ProgramConfig(id=program_id, name=name, targets=tuple(targets))
    program = initial_program(program_id)
    for command, at in (
        (CreateProgram(config=config), start - timedelta(days=1)),
        (StartProgram(pairings=len(scripts)), start),
    ):
        for event in decide_program(program, command, at):
            program = evolve_program(program, event)
            built.events.append(event)
    roster = initial_roster(program_id)
    pairs = []
    for index, script in enumerate(scripts, start=1):
        mentor_name, mentee_name = script.names
        mentor = person(program_id, mentor_name or f"Mentor Number{index}", Role.MENTOR)
        mentee = person(program_id, mentee_name or f"Mentee Number{index}", Role.MENTEE)
        pairs.append((mentor, mentee))
        for who in (mentor, mentee):
            built.people.append(who)
            for event in decide_roster(roster, EnrollParticipant(participant=who), start - timedelta(days=1)):
                roster = evolve_roster(roster, event)
                built.events.append(event)
    for index, (script, (mentor, mentee)) in enumerate(zip(scripts, pairs, strict=True), start=1):
        pairing_id = f"{program_id}.pair{index}"
        built.pairing_ids.append(pairing_id)
        built.events.extend(play(pairing_id, program_id, mentor, mentee, script, start).events)
    if as_of is not None:
        rows = [
            Leaver(
                email=(pairs[i - 1][0] if side == "mentor" else pairs[i - 1][1]).email,
                left_on=left,
                line=2 + n,
            )
            for n, (i, side, left) in enumerate(leavers)
        ]
        rows += [Leaver(email=email, left_on=left, line=100 + n) for n, (email, left) in enumerate(outsiders)]
        moment = datetime.combine(as_of, datetime.min.time(), tzinfo=UTC) + timedelta(days=1)
        decision = decide_leavers(roster, leavers_state([]), rows, as_of, moment)
        built.events.extend(decision.events)
    assert program.stream_id == program_stream(program_id)
    return built


def H(mentor: int, mentee: int) -> str:
    return f"H{mentor}{mentee}"


def fixture_scripts() -> list[Script]:
    """Eight pairings; see test_report_numbers.py for the arithmetic."""
    return [
        # 1: agrees on day 2, four sessions held, a glowing closeout
        Script(
            2,
            [H(5, 5), H(4, 5), H(5, 4), H(4, 4)],
            midpoint=((5, 5, (80, 70)), (4, 4, (70, 60))),
            closeout=(
                Closeout((90, 80), 10, 5, "Learned so much about generative AI and feedback culture"),
                Closeout((80, 70), 9, 5, "Generative AI changed my weekly planning; Zelda was great"),
            ),
            fit_check=(False, False),
            names=("Zelda Quinn", "Margaret Hughes"),
        ),
        # 2: day 5, one miss among four
        Script(
            5,
            [H(4, 4), H(4, 3), "M", H(4, 4)],
            midpoint=((4, 4, (60, 50)), (4, 5, (50, 50))),
            closeout=(
                Closeout((70, 60), 8, 4, "Feedback culture is different for younger colleagues"),
                Closeout((60, 50), 7, 4, "Zelda showed me generative AI"),
            ),
            fit_check=(False, False),
        ),
        # 3: day 9, four held
        Script(
            9,
            [H(3, 4), H(4, 4), H(4, 4), H(5, 5)],
            midpoint=((3, 3, (40, 40)), (4, 3, (50, 40))),
            closeout=(
                Closeout((50, 40), 6, 3, "Reverse mentoring needs more time"),
                Closeout((40, 30), 5, 3, ""),
            ),
            fit_check=(False, True),
        ),
        # 4: day 14, three sessions (the fourth would fall after the end)
        Script(
            14,
            [H(5, 5), H(5, 5), H(4, 5)],
            midpoint=((5, 4, (90, 80)), (5, 5, (90, 90))),
            closeout=(
                Closeout((100, 100), 10, 5, "Feedback culture and generative AI, both new to me"),
                Closeout((100, 90), 10, 5, "Generative AI again"),
            ),
        ),
        # 5: day 20, a miss then held
        Script(
            20,
            ["M", H(3, 3), H(4, 4)],
            midpoint=((3, 4, (30, 20)), (3, 3, (30, 30))),
            closeout=(
                Closeout((30, 20), 3, 2, "Not enough time for sessions"),
                Closeout((20, 20), 6, 2, ""),
            ),
        ),
        # 6: day 3, one held session, then the mentee withdraws at the second
        Script(3, [H(4, 4), "W"]),
        # 7: never agrees goals: at risk at the deadline, ends early without sessions
        Script(None),
        # 8: day 4, two misses (at risk), the midpoint review rates the relationship 2: rematched
        Script(4, ["M", "M"], midpoint=((2, 3, (10, 10)), (3, 2, (20, 10)))),
    ]


FIXTURE_TARGETS = (
    Target(metric="session_completion", at_least=0.8),
    Target(metric="time_to_agreed_goals_days", at_most=7),
    Target(metric="goal_attainment", at_least=0.7),
    Target(metric="midpoint_health", at_least=3.5),
    Target(metric="satisfaction_mentee", at_least=4),
    Target(metric="would_recommend_nps", at_least=30),
    Target(metric="at_risk_rate", at_most=0.15),
    Target(metric="early_end_rate", at_most=0.5),
    Target(metric="retention_12m", at_least=0.9),
)

FIXTURE_LEAVERS = (
    (1, "mentee", date(2027, 3, 1)),  # before the 3-month mark (2027-04-04)
    (2, "mentor", date(2027, 5, 15)),  # between 3 and 6 months (2027-07-04)
    (3, "mentor", date(2027, 10, 1)),  # between 6 and 12 months (2028-01-04)
    (4, "mentee", date(2028, 1, 20)),  # after 12 months: still retained at 12 months
)


def fixture_program(program_id: str = "rm-fixture") -> Built:
    return build_program(
        program_id,
        "=SUM(A1) pilot",  # a name that would be a formula in a spreadsheet
        fixture_scripts(),
        targets=FIXTURE_TARGETS,
        leavers=FIXTURE_LEAVERS,
        outsiders=(("someone.else@example.com", date(2027, 2, 1)),),
        as_of=date(2028, 2, 1),
    )
