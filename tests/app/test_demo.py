"""The demo space: valid answers across every built-in template, and an image."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from app.demo import DEMO_PASSPHRASE, create_demo_space, demo_assets
from app.forms.answers import validate
from app.forms.library import TemplateLibrary, builtin_templates
from app.space import Space
from store.kdf import KdfPolicy


def test_demo_content_is_valid_and_covers_every_template() -> None:
    library = TemplateLibrary.load()
    items = demo_assets(date(2026, 11, 23))
    for template_id, title, answers, _tags, _days in items:
        assert validate(library.get(template_id), answers) == [], title
    used = {template_id for template_id, *_ in items} | {"evidence"}
    assert used == {t.id for t in builtin_templates()}


def test_demo_space_opens_with_its_passphrase(tmp_path: Path, kdf_policy: KdfPolicy) -> None:
    create_demo_space(tmp_path / "demo.cairn", kdf_policy).lock()
    with Space.open(tmp_path / "demo.cairn", DEMO_PASSPHRASE, kdf_policy=kdf_policy) as space:
        summaries, damaged = space.list_assets()
        assert damaged == []
        assert len(summaries) > 25
        evidence = next(s for s in summaries if s.template_id == "builtin/evidence")
        [picture] = space.attachments(evidence.id)
        assert picture.media_type == "image/png"
        assert b"".join(space.read_attachment(picture.id)).startswith(b"\x89PNG")
        assert space.verify().ok
