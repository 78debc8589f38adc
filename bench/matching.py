"""Matching at scale: the optimal matcher side by side with the greedy baseline on generated rosters.

    .venv/bin/python -m bench.matching                       # 1,000 / 5,000 / 10,000 / 20,000 people
    .venv/bin/python -m bench.matching --sizes 1000 5000 --json bench-matching.json

Rosters are generated with a fixed seed (half mentors): twelve departments, a management tree several
levels deep (reporting chains are real constraints), skills drawn with a popularity skew (juniors offer
the new skills seniors want, seniors offer the leadership skills juniors want), four communication
styles, ten time zones, a few languages. Two capacity profiles: ``mixed`` (capacities 1-3, about 25 %
spare places) and ``tight`` (capacity 1, exactly as many places as mentees: the solver's hardest shape).
Each size, profile and method runs in its own process, so its memory figure is its own: ``peak RSS`` is
the process's high-water mark (``resource.getrusage``), the roster and the interpreter included
(``base RSS`` is the mark before matching started).

Wall time is end to end, as the CLI runs it after parsing: score and check every pair, solve, explain
every pair and every unmatched mentee. Targets on a 2-core machine (issue 4): 10,000 people under 10 s and
2 GiB, 20,000 under 60 s, and the optimal total score at least the greedy one with never fewer matched.
Timings here are noisy; the ratio of the two methods, measured side by side, is the stable figure.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
import zoneinfo
from datetime import UTC, datetime
from typing import Any

from domain.matching import Method, prepare
from domain.program import MatchingSettings, ProgramConfig
from domain.roster import Participant, Role, participant_id_for

SIZES = (1_000, 5_000, 10_000, 20_000)
SEED = 20261126
PROGRAM_ID = "bench-matching"
REFERENCE = datetime(2027, 1, 15, 12, tzinfo=UTC)

DEPARTMENTS = (
    "Finance", "Marketing", "Engineering", "Sales", "HR", "Operations", "Legal", "Product", "Design",
    "Data", "Customer Support", "Executive Office",
)  # fmt: skip
NEW_SKILLS = (
    "genai", "tiktok", "gen-z culture", "creator economy", "remote work", "open source", "no-code",
    "data visualisation", "prompt engineering", "esports", "sustainability", "neurodiversity", "web3",
    "instagram", "youtube", "python", "sql", "figma", "notion", "slack etiquette", "podcasting",
    "mental health", "hybrid work", "cloud", "cybersecurity", "ux research", "growth hacking",
    "community building", "memes", "short video",
)  # fmt: skip
LEADERSHIP_SKILLS = (
    "negotiation", "p&l", "board presentations", "strategy", "hiring", "budgeting", "investor relations",
    "capital allocation", "change management", "coaching", "public speaking", "crisis management",
    "mergers", "pricing", "architecture", "stakeholder management", "career planning", "networking",
    "delegation", "storytelling",
)  # fmt: skip
STYLES = ("direct", "analytical", "expressive", "reflective")
ZONES = (
    ("Europe/London", 20), ("America/New_York", 18), ("Europe/Berlin", 14), ("Europe/Paris", 10),
    ("America/Los_Angeles", 10), ("Asia/Singapore", 8), ("Asia/Kolkata", 8), ("America/Sao_Paulo", 5),
    ("Australia/Sydney", 4), ("Asia/Tokyo", 3),
)  # fmt: skip
LANGUAGES = ("en", "es", "fr", "de", "pt", "hi", "zh", "ja")  # most common first


def _skewed(rng: random.Random, items: tuple[str, ...], k: int) -> tuple[str, ...]:
    """k distinct items, the first ones of ``items`` much more likely (a popularity skew)."""
    weights = [1.0 / (rank + 1) for rank in range(len(items))]
    chosen: dict[str, None] = {}
    while len(chosen) < k:
        chosen[rng.choices(items, weights)[0]] = None
    return tuple(chosen)


PROFILES = ("mixed", "tight")


def generate_roster(
    people: int, seed: int = SEED, program_id: str = PROGRAM_ID, profile: str = "mixed"
) -> list[Participant]:
    """``people`` participants, half mentors (juniors, levels 1-5) and half mentees (seniors, 4-12).

    Profile ``mixed``: mentor capacities 1 (80 %), 2 (15 %), 3 (5 %), so about 25 % spare capacity;
    ``tight``: every capacity 1, as many places as mentees (the hardest shape for the solver).
    """
    rng = random.Random(seed)
    zone_names, zone_weights = zip(*ZONES, strict=True)
    mentees = people // 2
    mentors = people - mentees
    rows: list[dict[str, Any]] = []
    for role, count, levels in ((Role.MENTEE, mentees, (4, 12)), (Role.MENTOR, mentors, (1, 5))):
        for n in range(count):
            junior = role is Role.MENTOR
            offered, wanted = (NEW_SKILLS, LEADERSHIP_SKILLS) if junior else (LEADERSHIP_SKILLS, NEW_SKILLS)
            languages = {"en"} if rng.random() < 0.9 else set()
            languages |= set(_skewed(rng, LANGUAGES, rng.randint(0, 2)))
            capacity = rng.choices((1, 2, 3), (80, 15, 5))[0] if junior else 1
            if profile == "tight":
                capacity = 1
            rows.append(
                {
                    "email": f"{role.value}{n:05d}@bench.example.com",
                    "name": f"{role.value.title()} {n}",
                    "role": role,
                    "title": "Associate" if junior else "Director",
                    "department": rng.choice(DEPARTMENTS),
                    "level": rng.randint(*levels),
                    "skills_offered": _skewed(rng, offered, rng.randint(1, 4)),
                    "skills_wanted": _skewed(rng, wanted, rng.randint(1, 4)),
                    "communication_style": rng.choice(STYLES),
                    "timezone": rng.choices(zone_names, zone_weights)[0],
                    "capacity": capacity,
                    "languages": tuple(sorted(languages or {"en"})),
                }
            )
    # A management tree: each mentee reports to a more senior mentee (the most senior to nobody); each
    # mentor to a mentee or to a more senior mentor. Chains are several levels deep.
    seniors = sorted((r for r in rows if r["role"] is Role.MENTEE), key=lambda r: -r["level"])
    juniors = sorted((r for r in rows if r["role"] is Role.MENTOR), key=lambda r: -r["level"])
    for group, own_side in ((seniors, 1.0), (juniors, 0.3)):
        first_of_level: dict[int, int] = {}
        for k, row in enumerate(group):
            first_of_level.setdefault(row["level"], k)
        for row in group:
            above = group[max(0, first_of_level[row["level"]] - 50) : first_of_level[row["level"]]]
            if above and rng.random() < own_side:
                row["manager_email"] = rng.choice(above)["email"]
            elif group is juniors and seniors:
                row["manager_email"] = rng.choice(seniors)["email"]
            else:
                row["manager_email"] = None
    return [
        Participant(participant_id=participant_id_for(program_id, row["email"]), **row)
        for row in sorted(rows, key=lambda r: r["email"])
    ]


def offsets_for(participants: list[Participant]) -> dict[str, float]:
    zones = {p.timezone for p in participants}
    return {z: zoneinfo.ZoneInfo(z).utcoffset(REFERENCE).total_seconds() / 3600 for z in sorted(zones)}  # type: ignore[union-attr]


def run_one(people: int, method: Method, seed: int, profile: str = "mixed") -> dict[str, Any]:
    """One size, profile and method, in this process: one row of :func:`main`'s table."""
    participants = generate_roster(people, seed, profile=profile)
    config = ProgramConfig(id=PROGRAM_ID, name="bench", matching=MatchingSettings(seed=seed))
    offsets = offsets_for(participants)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    matching = prepare(config, participants, offsets=offsets)
    scored = time.perf_counter()
    proposal = matching.propose(method)
    finished = time.perf_counter()
    return {
        "people": people,
        "profile": profile,
        "method": method,
        "mentees": sum(1 for p in participants if p.role is Role.MENTEE),
        "matched": len(proposal.pairs),
        "total_score": proposal.total_score,
        "mean_score": proposal.mean_score,
        "min_score": proposal.min_score,
        "score_seconds": round(scored - started, 3),
        "solve_explain_seconds": round(finished - scored, 3),
        "wall_seconds": round(finished - started, 3),
        "base_rss_mib": round(base / 1024, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _in_subprocess(people: int, method: Method, seed: int, profile: str) -> dict[str, Any]:
    code = (
        "import json; from bench.matching import run_one; "
        f"print(json.dumps(run_one({people}, {method!r}, {seed}, {profile!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{people} people, {profile}, {method}: {done.stderr.strip()}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


_COLUMNS = (
    ("people", ">7", "people"), ("profile", ">7", "profile"), ("method", ">8", "method"),
    ("matched", ">8", "matched"), ("total score", ">11.2f", "total_score"), ("mean", ">6.3f", "mean_score"),
    ("min", ">6.3f", "min_score"), ("score s", ">8.2f", "score_seconds"),
    ("solve+explain s", ">15.2f", "solve_explain_seconds"), ("wall s", ">7.2f", "wall_seconds"),
    ("base RSS MiB", ">12.0f", "base_rss_mib"), ("peak RSS MiB", ">12.0f", "peak_rss_mib"),
)  # fmt: skip


def _row(values: dict[str, Any]) -> str:
    cells = []
    for _title, spec, key in _COLUMNS:
        value = values.get(key, "")
        width = spec.lstrip(">").split(".")[0]
        cells.append(f"{value:{spec}}" if value not in ("", None) else f"{'':>{width}}")
    return " ".join(cells)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="roster sizes (people)")
    parser.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=PROFILES)
    parser.add_argument("--seed", type=int, default=SEED, help="roster and serendipity seed")
    parser.add_argument("--json", dest="json_path", help="also write the results to this file")
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    header = " ".join(f"{title:>{spec.lstrip('>').split('.')[0]}}" for title, spec, _ in _COLUMNS)
    print(header)
    print("-" * len(header))
    failures = 0
    for people in args.sizes:
        for profile in args.profiles:
            runs = {
                method: _in_subprocess(people, method, args.seed, profile) for method in ("greedy", "optimal")
            }
            for method in ("greedy", "optimal"):
                results.append(runs[method])
                print(_row(runs[method]), flush=True)
            optimal, greedy = runs["optimal"], runs["greedy"]
            ok = optimal["matched"] >= greedy["matched"] and optimal["total_score"] >= greedy["total_score"]
            failures += not ok
            gain = optimal["total_score"] / max(greedy["total_score"], 1e-9) - 1
            print(
                f"{'':>7} {'':>7} {'':>8} {'':>8} {f'+{gain:.2%}':>11} "
                f"{'optimal >= greedy' if ok else 'OPTIMAL BELOW GREEDY'}",
                flush=True,
            )
    report = {"seed": args.seed, "reference_instant": REFERENCE.isoformat(), "results": results}
    print(json.dumps(report, indent=2))
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
