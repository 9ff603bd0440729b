"""Links between assets (by hand and from link fields), skills and status in summaries."""

from __future__ import annotations

from app.forms.library import TemplateLibrary
from app.space import Space


def test_link_fields_link_both_ways_and_hand_made_links_survive_edits(space: Space) -> None:
    library = TemplateLibrary.load()
    plan_template = library.get("smart-plan")
    evidence_template = library.get("evidence")
    plan = space.add_asset("builtin/smart-plan", "Facilitate well", {"status": "in-progress"},
                           template=plan_template)  # fmt: skip
    other = space.add_asset("builtin/journal", "A day", {"entry": "x"})
    evidence = space.add_asset(
        "builtin/evidence", "Board photo",
        {"supports": [plan.id, "not-an-asset"], "skills": ["Facilitation", "facilitation "]},
        links=[other.id], template=evidence_template,
    )  # fmt: skip

    assert {"target": plan.id, "field": "supports"} in evidence.links
    assert {"target": other.id} in evidence.links
    assert all(link["target"] != "not-an-asset" for link in evidence.links)
    assert evidence.skills == ["Facilitation"]
    assert [s.title for s in space.linked_from(plan.id)] == ["Board photo"]
    assert [s.title for s in space.linked_from(other.id)] == ["Board photo"]

    # Emptying the field removes its link; the hand-made one stays.
    edited = space.edit_asset(evidence.id, set_fields={"supports": []}, template=evidence_template)
    assert edited.links == [{"target": other.id}]
    assert space.linked_from(plan.id) == []

    # Replacing the hand-made links keeps those that come from fields.
    edited = space.edit_asset(evidence.id, set_fields={"supports": [plan.id]},
                              links=[], template=evidence_template)  # fmt: skip
    assert edited.links == [{"target": plan.id, "field": "supports"}]


def test_summaries_carry_skills_and_status_label(space: Space) -> None:
    template = TemplateLibrary.load().get("smart-plan")
    plan = space.add_asset("builtin/smart-plan", "Plan", {"status": "in-progress"},
                           template=template)  # fmt: skip
    space.edit_asset(plan.id, set_fields={"status": "done"}, template=template)
    summaries, _ = space.list_assets()
    assert summaries[0].status == "Done"
    assert space.get_asset(plan.id).status == "Done"
    assert space.get_version(plan.id, 1).status == "In progress"


def test_the_template_given_sets_the_version_written_against(space: Space) -> None:
    template = TemplateLibrary.load().get("evidence")
    record = space.add_asset("builtin/evidence", "Photo", {}, template=template)
    assert record.template_version == template.version
