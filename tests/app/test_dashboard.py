"""What the dashboard shows, computed from a real space."""

from __future__ import annotations

from datetime import date

from app.dashboard import build_dashboard
from app.forms.library import TemplateLibrary
from app.space import Space


def test_dashboard_figures(space: Space) -> None:
    templates = {t.qualified_id: t for t in TemplateLibrary.load().all()}
    half = space.add_asset("builtin/smart-plan", "Stand-ups", {
        "specific": "x", "deadline": "2026-12-31", "review_date": "2026-12-05",
        "actions": [{"text": "a", "done": True}, {"text": "b", "done": False}],
        "status": "in-progress"})  # fmt: skip
    space.add_asset("builtin/smart-plan", "Dropped one", {"specific": "x", "deadline": "2026-12-31",
                                                          "status": "dropped"})  # fmt: skip
    space.add_asset("builtin/reflection", "Client call", {"description": "d", "conclusion": "c"})
    space.add_asset("builtin/cpd-log", "2026", {"activities": [
        {"activity": "Course", "hours": 6, "date": "2026-11-03"},
        {"activity": "Mentoring", "hours": 1.5, "date": "2026-10-20"}]})  # fmt: skip
    space.add_asset("builtin/skill-assessment", "SQL", {"skill": ["SQL"], "ratings": [
        {"date": "2026-11-01", "rating": 3}, {"date": "2026-09-01", "rating": 2}]})  # fmt: skip

    board = build_dashboard(list(space.iter_assets()), templates, today=date(2026, 11, 23))
    assert [(p.title, p.progress, p.next_review) for p in board.plans] == [
        ("Stand-ups", 50, "2026-12-05")
    ]
    assert board.plans[0].asset_id == half.id
    assert [r.title for r in board.recent_reflections] == ["Client call"]
    months = dict((m, (n, h)) for m, n, h in board.activity)
    assert len(board.activity) == 12
    assert board.activity[-1][0] == "2026-11"
    assert months["2026-11"] == (5, 6.0)  # five entries written, six hours logged
    assert months["2026-10"] == (0, 1.5)
    assert [(s.skill, s.rating, s.out_of) for s in board.skills] == [("SQL", 3, 5)]
    assert board.total_assets == 5
