"""Where templates come from: built in, the person's own, and organisations'.

Assets record a template's qualified id (`builtin/smart-plan`, `user/my-plan`,
`org/<name>/<id>`), so templates from different sources never collide. People
may type the short id (`smart-plan`) where it is unambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import platformdirs

from app.forms.loader import TemplateError, load_template_file, parse_template
from app.forms.model import SchemaProblem, Template

BUILTIN = "builtin"
USER = "user"


class UnknownTemplate(LookupError):
    """No template has this id (or a short id matches several)."""


def user_template_folder() -> Path:
    """The person's own templates: <config folder>/templates."""
    return Path(platformdirs.user_config_dir("cairn", appauthor=False)) / "templates"


def organisation_template_root() -> Path:
    """Templates that organisations publish to the person, one folder per organisation:
    <config folder>/organisations/<name>/ (written by app.syncing when it pulls them)."""
    return Path(platformdirs.user_config_dir("cairn", appauthor=False)) / "organisations"


def organisation_template_folders() -> dict[str, Path]:
    """Each organisation's template folder by its name (the ``<name>`` of ``org/<name>/id``)."""
    root = organisation_template_root()
    if not root.is_dir():
        return {}
    return {folder.name: folder for folder in sorted(root.iterdir()) if folder.is_dir()}


def builtin_templates() -> list[Template]:
    """The templates shipped in the `templates` package (data read with importlib)."""
    found: list[Template] = []
    for entry in sorted(resources.files("templates").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            found.append(parse_template(entry.read_text("utf-8"), f"templates/{entry.name}"))
    return found


@dataclass
class TemplateLibrary:
    """All templates a person can use, by qualified id."""

    templates: dict[str, Template] = field(default_factory=dict)
    #: Problems with the person's own template files (shown, never fatal).
    problems: list[SchemaProblem] = field(default_factory=list)

    @classmethod
    def load(
        cls, user_folder: Path | None = None, org_folders: dict[str, Path] | None = None
    ) -> TemplateLibrary:
        library = cls()
        for template in builtin_templates():
            library.add(template)
        folder = user_template_folder() if user_folder is None else user_folder
        library._load_folder(folder, USER)
        if org_folders is None:
            org_folders = organisation_template_folders()
        for name, org_folder in sorted(org_folders.items()):
            library._load_folder(org_folder, f"org/{name}")
        return library

    def _load_folder(self, folder: Path, source: str) -> None:
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.toml")):
            try:
                self.add(load_template_file(path, source=source))
            except TemplateError as error:
                self.problems.extend(error.problems)

    def add(self, template: Template) -> None:
        self.templates[template.qualified_id] = template

    def all(self) -> list[Template]:
        return sorted(
            self.templates.values(), key=lambda t: (t.source != BUILTIN, t.source, t.name)
        )

    def get(self, template_id: str) -> Template:
        """By qualified id, or by a short id that only one source uses."""
        if template_id in self.templates:
            return self.templates[template_id]
        matches = [t for t in self.templates.values() if t.id == template_id]
        if len(matches) == 1:
            return matches[0]
        if matches:
            options = ", ".join(sorted(t.qualified_id for t in matches))
            raise UnknownTemplate(f"{template_id!r} is ambiguous: use one of {options}")
        raise UnknownTemplate(f"no template has the id {template_id!r}; see 'cairn templates list'")

    def exact(self, qualified_id: str) -> Template | None:
        """The template an asset records (qualified ids only: short ids are for typing)."""
        return self.templates.get(qualified_id)

    def find(self, template_id: str) -> Template | None:
        try:
            return self.get(template_id)
        except UnknownTemplate:
            return None

    def copy_to_user(self, template_id: str, new_id: str, folder: Path | None = None) -> Path:
        """Copy a template into the person's folder under a new id, to edit it there."""
        template = self.get(template_id)
        if not re.match(r"^[a-z0-9][a-z0-9_-]{0,63}$", new_id):
            raise ValueError("ids use lower-case letters, digits, '-' and '_'")
        target_folder = user_template_folder() if folder is None else folder
        target = target_folder / f"{new_id}.toml"
        if target.exists():
            raise FileExistsError(f"{target} already exists")
        text = _source_text(template)
        text, count = re.subn(r'^id\s*=\s*"[^"]*"', f'id = "{new_id}"', text, count=1, flags=re.M)
        if not count:
            raise ValueError("the template's id line could not be found")
        text = re.sub(r'^version\s*=\s*"[^"]*"', 'version = "1.0.0"', text, count=1, flags=re.M)
        parse_template(text, str(target), source=USER)  # never write a broken copy
        target_folder.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target


def _source_text(template: Template) -> str:
    if template.source == BUILTIN:
        name = Path(template.path).name
        return resources.files("templates").joinpath(name).read_text("utf-8")
    return Path(template.path).read_text("utf-8")
