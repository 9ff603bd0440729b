"""What the dashboard shows, worked out from the space (plain data, no Qt)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from app.forms.answers import computed_values
from app.forms.model import Template
from store.errors import DamagedRecord
from store.records import AssetRecord

ACTIVE_STATUSES = {None, "", "not-started", "in-progress", "on-track", "at-risk"}


@dataclass(frozen=True)
class PlanProgress:
    asset_id: str
    title: str
    progress: int | None  # percent, None when the plan has no actions yet
    next_review: str | None  # ISO date


@dataclass(frozen=True)
class RecentItem:
    asset_id: str
    title: str
    template_name: str
    updated: str


@dataclass(frozen=True)
class SkillRating:
    skill: str
    rating: int | float
    out_of: int
    rated_on: str | None


@dataclass
class Dashboard:
    plans: list[PlanProgress] = field(default_factory=list)
    recent_reflections: list[RecentItem] = field(default_factory=list)
    #: (YYYY-MM, entries written that month, CPD hours logged that month), oldest first
    activity: list[tuple[str, int, float]] = field(default_factory=list)
    skills: list[SkillRating] = field(default_factory=list)
    total_assets: int = 0


def _month(iso: str) -> str | None:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m") if "T" in iso else iso[:7]
    except ValueError:
        return None


def _last_months(today: date, count: int) -> list[str]:
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return list(reversed(months))


def build_dashboard(
    records: list[AssetRecord | DamagedRecord],
    templates: dict[str, Template],
    today: date | None = None,
    months: int = 12,
) -> Dashboard:
    """Active plans, recent reflections, activity per month and latest skill ratings."""
    today = today or date.today()
    board = Dashboard()
    entries: Counter[str] = Counter()
    hours: dict[str, float] = {}
    ratings: dict[str, SkillRating] = {}
    reflections: list[RecentItem] = []
    for record in records:
        if isinstance(record, DamagedRecord):
            continue
        board.total_assets += 1
        template = templates.get(record.template_id)
        month = _month(record.created)
        if month:
            entries[month] += 1
        if template is None:
            continue
        values = record.fields
        if template.kind == "plan" and values.get("status") in ACTIVE_STATUSES:
            computed = computed_values(template, values)
            progress = computed.get("progress")
            review = values.get("review_date") or values.get("deadline") or values.get("due")
            board.plans.append(
                PlanProgress(
                    record.id,
                    record.title,
                    progress if isinstance(progress, int) else None,
                    review if isinstance(review, str) else None,
                )
            )
        if template.kind == "reflection":
            reflections.append(RecentItem(record.id, record.title, template.name, record.updated))
        for spec in template.fields:  # hours in any group with an "hours" number field
            if spec.type == "group" and spec.subfield("hours") is not None:
                for row in values.get(spec.id) or []:
                    when = _month(str(row.get("date") or record.created))
                    amount = row.get("hours")
                    if when and isinstance(amount, int | float):
                        hours[when] = hours.get(when, 0.0) + float(amount)
        if template.kind == "assessment" and values.get("ratings"):
            skill_field = values.get("skill")
            skill = (
                skill_field[0] if isinstance(skill_field, list) and skill_field else record.title
            )
            rows = [r for r in values["ratings"] if isinstance(r, dict) and "rating" in r]
            if rows:
                latest = max(rows, key=lambda r: str(r.get("date") or ""))
                ratings_spec = template.field("ratings")
                scale = ratings_spec.subfield("rating") if ratings_spec else None
                out_of = int(scale.maximum or 5) if scale else 5
                previous = ratings.get(skill)
                if previous is None or str(latest.get("date") or "") >= str(
                    previous.rated_on or ""
                ):
                    ratings[skill] = SkillRating(
                        skill, latest["rating"], out_of, latest.get("date")
                    )
    board.plans.sort(key=lambda p: (p.next_review or "9999", p.title))
    board.recent_reflections = sorted(reflections, key=lambda r: r.updated, reverse=True)[:5]
    board.activity = [
        (m, entries[m], round(hours.get(m, 0.0), 1)) for m in _last_months(today, months)
    ]
    board.skills = sorted(ratings.values(), key=lambda s: s.skill.casefold())
    return board
