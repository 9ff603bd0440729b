"""A demo space: realistic content across every built-in template (no Qt)."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from app.forms.answers import summary_facts
from app.forms.library import TemplateLibrary
from app.space import Space
from store.kdf import PRODUCTION_POLICY, KdfPolicy
from store.spacefile import NewAsset

DEMO_PASSPHRASE = "demo cairn lantern meadow"


def _png(width: int, height: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> bytes:
    """A small gradient PNG, made without any imaging library (for evidence thumbnails)."""
    rows = []
    for y in range(height):
        t = y / max(1, height - 1)
        colour = bytes(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        rows.append(b"\x00" + colour * width)
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _when(today: date, days_ago: int) -> str:
    moment = datetime.combine(today - timedelta(days=days_ago), datetime.min.time(), UTC)
    return (moment + timedelta(hours=9)).isoformat(timespec="microseconds")


def _day(today: date, days_ago: int) -> str:
    return (today - timedelta(days=days_ago)).isoformat()


def demo_assets(today: date) -> list[tuple[str, str, dict[str, Any], list[str], int]]:
    """(template, title, answers, tags, days ago) for a year of someone's learning."""

    def d(days_ago: int) -> str:
        return _day(today, days_ago)

    items: list[tuple[str, str, dict[str, Any], list[str], int]] = [
        (
            "smart-plan",
            "Run stand-ups that end on time",
            {
                "specific": "Facilitate the daily stand-up so it ends within **15 minutes** and everyone leaves knowing the day's priority.",
                "measurable": "Five stand-ups in a row under 15 minutes, and Sam (who observes one) agrees the priorities were clear.",
                "achievable": "I already run it twice a week. The risk is long problem-solving detours; a parking lot should help.",
                "relevant": "The team asked for shorter meetings in the last retro, and facilitation is in my development plan.",
                "deadline": d(-38),
                "review_date": d(-12),
                "confidence": 4,
                "status": "in-progress",
                "actions": [
                    {"text": "Read the team's last three retro notes", "done": True, "due": d(20)},
                    {
                        "text": "Introduce a visible timer and a parking lot",
                        "done": True,
                        "due": d(10),
                    },
                    {"text": "Ask Sam to observe one stand-up", "done": False, "due": d(-5)},
                ],
            },
            ["facilitation", "meetings"],
            34,
        ),
        (
            "smart-plan",
            "Write SQL window functions confidently",
            {
                "specific": "Use window functions for running totals and rankings in our reporting queries without looking up the syntax.",
                "measurable": "Rewrite the three slowest monthly reports and have Priya review them.",
                "deadline": d(-70),
                "review_date": d(-19),
                "confidence": 3,
                "status": "in-progress",
                "actions": [
                    {"text": "Work through the window-function chapter", "done": True, "due": None},
                    {"text": "Rewrite the churn report", "done": False, "due": d(-10)},
                    {
                        "text": "Rewrite the revenue and cohort reports",
                        "done": False,
                        "due": d(-40),
                    },
                    {"text": "Pair with Priya on the review", "done": False, "due": d(-60)},
                ],
            },
            ["sql", "data"],
            51,
        ),
        (
            "performance-objective",
            "Lead the onboarding redesign",
            {
                "objective": "New joiners can ship a small change in their **first week**, up from three weeks today.",
                "assessment": "Time to first merged change for the next four joiners; their feedback at day 30.",
                "status": "on-track",
                "review_date": d(-30),
                "changes": [
                    {
                        "change": "First-week checklist published",
                        "when": d(60),
                        "details": "Two joiners used it; both merged by day 5.",
                    },
                ],
            },
            ["onboarding", "leadership"],
            95,
        ),
        (
            "reflection",
            "A tough client call about scope",
            {
                "date": d(9),
                "description": "The client pushed back on the scope we had agreed in the kickoff and asked for two extra reports at no cost.",
                "feelings": "Defensive at first, then worried about the relationship. Relieved when my manager joined the follow-up.",
                "evaluation": "I stayed calm and summarised their concern well. I conceded too quickly on the first report.",
                "analysis": "The scope was only in the slides, never in writing. I had no clear way to say no without sounding unhelpful.",
                "conclusion": "Agree scope in writing before the first workshop, and practise a phrase for trade-offs.",
                "action_plan": [
                    {
                        "text": "Send a written scope recap after every kickoff",
                        "done": True,
                        "due": None,
                    },
                    {
                        "text": "Role-play a trade-off conversation with my mentor",
                        "done": False,
                        "due": d(-14),
                    },
                ],
            },
            ["clients", "communication"],
            9,
        ),
        (
            "what-so-what-now-what",
            "The retro that went sideways",
            {
                "what": "Our retro turned into a debate about the release process and ran 40 minutes over.",
                "so_what": "People disengaged; the quieter half of the team did not speak at all.",
                "now_what": "Timebox topics, and take process debates to a separate session with an owner.",
            },
            ["facilitation", "retros"],
            23,
        ),
        (
            "reflection",
            "Pairing with Priya on the outage review",
            {
                "description": "We traced the outage to a missing index together and wrote the review.",
                "conclusion": "Asking 'what did we expect to see?' at each step kept us honest. I want to use it on my own.",
            },
            ["incidents", "sql"],
            40,
        ),
        (
            "experience",
            "Shadowing the support team for a week",
            {
                "what_happened": "Sat with the support team, answered tickets with them and listened to calls.",
                "where": "on-the-job",
                "date": d(120),
                "learned": "Most tickets come from three confusing settings pages. Customers describe problems in their words, not ours.",
                "differently": "Read a sample of tickets before designing any settings page.",
                "skills": ["empathy", "customer insight"],
            },
            ["customers"],
            120,
        ),
        (
            "cpd-log",
            "CPD 2026",
            {
                "period_start": d(330),
                "period_end": d(-35),
                "hours_required": 30,
                "activities": [
                    {
                        "activity": "Facilitation fundamentals",
                        "type": "course",
                        "provider": "Open University",
                        "date": d(200),
                        "hours": 6,
                        "outcomes": "Techniques for timeboxing and inclusive discussion.",
                    },
                    {
                        "activity": "Data conference",
                        "type": "event",
                        "provider": "PyData",
                        "date": d(150),
                        "hours": 7,
                    },
                    {
                        "activity": "Mentoring sessions",
                        "type": "coaching",
                        "date": d(60),
                        "hours": 4.5,
                    },
                    {
                        "activity": "SQL window functions",
                        "type": "reading",
                        "date": d(45),
                        "hours": 5,
                    },
                ],
            },
            ["cpd"],
            200,
        ),
        (
            "coaching-session",
            "Mentoring with Alex: saying no",
            {
                "with": "Alex (mentor)",
                "role": "mentor",
                "date": d(15),
                "brought": "How to push back on extra scope without damaging the relationship.",
                "explored": "Offer options with their costs instead of a flat no.",
                "insights": "A trade-off is a service to the client, not a refusal.",
                "actions": [{"text": "Prepare three trade-off phrases", "done": True, "due": None}],
                "next_session": d(-14),
            },
            ["mentoring", "clients"],
            15,
        ),
        (
            "skill-assessment",
            "SQL",
            {
                "skill": ["SQL"],
                "why": "Most of my analysis work runs on SQL.",
                "target": 4,
                "ratings": [
                    {
                        "date": d(200),
                        "rating": 2,
                        "basis": "Comfortable with joins, lost with windows.",
                    },
                    {"date": d(60), "rating": 3, "basis": "Wrote my first running total unaided."},
                ],
            },
            ["sql"],
            200,
        ),
        (
            "skill-assessment",
            "Facilitation",
            {
                "skill": ["Facilitation"],
                "target": 4,
                "ratings": [
                    {
                        "date": d(30),
                        "rating": 3,
                        "basis": "Stand-ups are shorter; retros still drift.",
                    }
                ],
            },
            ["facilitation"],
            30,
        ),
        (
            "interaction",
            "What a customer taught me about reports",
            {
                "who": "Finance lead at a customer",
                "context": "A call about their month-end reporting.",
                "learned": "They export everything to spreadsheets because they trust numbers they can trace.",
                "will_try": "Show how each figure is calculated, next to the figure.",
            },
            ["customers", "data"],
            70,
        ),
        (
            "event-notes",
            "PyData London",
            {
                "event": "PyData London",
                "date": d(150),
                "format": "in-person",
                "sessions": [
                    {
                        "title": "Practical window functions",
                        "speaker": "J. Smith",
                        "key_points": "- Frames matter\n- Name your windows",
                    }
                ],
                "ideas": [
                    {"text": "Try named windows in the churn report", "done": False, "due": None}
                ],
            },
            ["conference", "sql"],
            150,
        ),
        (
            "reading-notes",
            "The Culture Map (chapters 1–3)",
            {
                "title": "The Culture Map",
                "author": "Erin Meyer",
                "type": "book",
                "key_ideas": "Cultures differ on scales such as communicating, evaluating and disagreeing.",
                "application": "Our client prefers indirect feedback; I should frame trade-offs softly.",
                "rating": 4,
            },
            ["reading", "communication"],
            85,
        ),
        (
            "journal",
            "First week in the support team",
            {
                "entry": "Exhausting and useful. I had no idea how many people get stuck on the export settings.",
                "mood": 4,
            },
            [],
            118,
        ),
        (
            "journal",
            "Quiet day, good focus",
            {
                "entry": "Finished the churn report rewrite draft. Window functions clicked.",
                "mood": 5,
            },
            ["sql"],
            12,
        ),
    ]
    for month in range(11, 0, -1):  # a steady habit, visible on the dashboard
        items.append(
            (
                "journal",
                f"Weekly note {month}",
                {"entry": "What went well, what I learned, what is next."},
                [],
                month * 28 + 3,
            )
        )
    return items


def create_demo_space(
    path: Path, kdf_policy: KdfPolicy = PRODUCTION_POLICY, today: date | None = None
) -> Space:
    """Create and fill a demo space; returns it unlocked (the caller locks it)."""
    today = today or date.today()
    library = TemplateLibrary.load()
    space, _ = Space.create(path, DEMO_PASSPHRASE, kdf_policy=kdf_policy)
    news = []
    for template_id, title, answers, tags, days_ago in demo_assets(today):
        template = library.get(template_id)
        skills, status = summary_facts(template, answers)
        news.append(NewAsset(template.qualified_id, title, answers, tags, [], template.version,
                             _when(today, days_ago), skills, status))  # fmt: skip
    records = space.add_assets(news)
    whiteboard = next(r for r in records if r.title == "Run stand-ups that end on time")
    evidence = space.add_asset("builtin/evidence", "Whiteboard after the stand-up workshop", {
        "caption": "Our parking-lot board after the first timed stand-up",
        "shows": "The team used the parking lot for three topics instead of debating them in the stand-up.",
        "date": _day(today, 8), "skills": ["facilitation"],
        "supports": [whiteboard.id],
    }, ["facilitation"], template=library.get("builtin/evidence"))  # fmt: skip
    import io

    picture = _png(320, 200, (86, 141, 199), (222, 235, 247))
    attachment = space.attach(evidence.id, io.BytesIO(picture), "whiteboard.png", "image/png")
    space.edit_asset(evidence.id, set_fields={"file": [attachment.id]},
                     template=library.get("builtin/evidence"))  # fmt: skip
    return space
