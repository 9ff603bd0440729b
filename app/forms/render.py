"""Rendering an asset by its template's sections: Markdown, and sanitised HTML.

HTML goes through `markdown` and then `nh3`, whatever the answers contain:
script, event-handler attributes and `javascript:` links never survive.
Plain-text answers are escaped, so only Markdown fields can format anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import markdown as markdown_lib
import nh3

from app.forms.answers import computed_values
from app.forms.model import FieldSpec, Template
from store.records import AssetRecord

#: Looks up a display name for an attachment or asset id (None if unknown).
NameLookup = Callable[[str], str | None]

_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]|~])")
_MARKDOWN_LINE_START = re.compile(r"^(\s*(?:\d+)?)([#>+\-=.)])", re.MULTILINE)
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


def escape_text(text: str) -> str:
    """Plain text made inert in Markdown (and in the HTML made from it)."""
    text = _MARKDOWN_INLINE.sub(r"\\\1", text)
    text = _MARKDOWN_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _humanise(key: str) -> str:
    return key.replace("_", " ").replace("-", " ").strip().capitalize() or key


def _format_date(value: str) -> str:
    try:
        return date.fromisoformat(value).strftime("%-d %B %Y")
    except ValueError:
        return value


def _format_datetime(value: str) -> str:
    try:
        return datetime.fromisoformat(value).strftime("%-d %B %Y, %H:%M")
    except ValueError:
        return value


def _number(value: Any, unit: str) -> str:
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return f"{text} {escape_text(unit)}".rstrip()


def _value_markdown(spec: FieldSpec, value: Any, names: NameLookup) -> str:
    """One answer as Markdown (block or inline)."""
    kind = spec.type
    if kind == "markdown":
        return str(value)
    if kind == "text":
        return escape_text(str(value))
    if kind == "url":
        url = str(value)
        scheme = url.split(":", 1)[0].lower()
        if scheme in ALLOWED_URL_SCHEMES and not re.search(r"[\s<>()]", url):
            return f"<{url}>"
        return escape_text(url)
    if kind == "date":
        return escape_text(_format_date(str(value)))
    if kind == "datetime":
        return escape_text(_format_datetime(str(value)))
    if kind == "number":
        return _number(value, spec.unit)
    if kind == "scale":
        ends = ""
        if spec.low_label or spec.high_label:
            ends = f" ({escape_text(spec.low_label)} … {escape_text(spec.high_label)})"
        return f"{_number(value, '')} of {_number(spec.maximum or 5, '')}{ends}"
    if kind == "choice":
        option = spec.option_for(str(value))
        return escape_text(option.label if option else str(value))
    if kind == "multichoice":
        labels = []
        for item in value:
            option = spec.option_for(str(item))
            labels.append(escape_text(option.label if option else str(item)))
        return ", ".join(labels)
    if kind == "skills":
        return ", ".join(escape_text(str(item)) for item in value)
    if kind in ("attachment", "link"):
        return ", ".join(escape_text(names(str(item)) or str(item)) for item in value)
    if kind == "checklist":
        lines = []
        for item in value:
            mark = "x" if item.get("done") else " "
            due = f" (due {escape_text(_format_date(item['due']))})" if item.get("due") else ""
            lines.append(f"- [{mark}] {escape_text(str(item.get('text', '')))}{due}")
        return "\n".join(lines)
    if kind == "group":
        # Each row is a numbered item with its answers as sub-items; a multi-line
        # answer is indented under its sub-item (8 spaces), and rows with one are
        # followed by a blank line so the next row does not join the block.
        rows = []
        for index, row in enumerate(value, start=1):
            parts = []
            has_block = False
            for sub in spec.fields:
                answer = row.get(sub.id)
                if answer in (None, "", []):
                    continue
                rendered = _value_markdown(sub, answer, names)
                if "\n" in rendered or _is_block(sub):
                    has_block = True
                    rendered = "\n\n" + _indent(rendered, " " * 8)
                parts.append(f"    - **{escape_text(sub.label)}:** {rendered}")
            lines = [f"{index}. " + (parts[0].lstrip(" -") if parts else "(empty)"), *parts[1:]]
            rows.append("\n".join(lines) + ("\n" if has_block else ""))
        return "\n".join(rows).rstrip("\n")
    return escape_text(json.dumps(value, ensure_ascii=False))


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _is_block(spec: FieldSpec) -> bool:
    return spec.type in ("markdown", "checklist", "group")


def to_markdown(
    record: AssetRecord,
    template: Template | None,
    names: NameLookup = lambda _id: None,
) -> str:
    """The asset as a Markdown document, laid out by the template's sections."""
    lines = [f"# {escape_text(record.title) or 'Untitled'}", ""]
    about = template.name if template else record.template_id
    meta = [escape_text(about)]
    if record.updated:
        meta.append(f"updated {_format_date(record.updated[:10])}")
    if record.tags:
        meta.append("tags: " + ", ".join(escape_text(t) for t in record.tags))
    lines += ["*" + " · ".join(meta) + "*", ""]

    answered = dict(record.fields)
    if template is not None:
        computed = computed_values(template, record.fields)
        shown = [(c, computed[c.id]) for c in template.computed if computed[c.id] is not None]
        for item, value in shown:
            unit = " %" if item.function == "progress" else (f" {item.unit}" if item.unit else "")
            lines.append(f"**{escape_text(item.label)}:** {value}{escape_text(unit)}  ")
        if shown:
            lines.append("")
        for section in template.sections:
            body: list[str] = []
            for spec in section.fields:
                value = answered.pop(spec.id, None)
                if value in (None, "", []):
                    continue
                rendered = _value_markdown(spec, value, names)
                if _is_block(spec):
                    body += [f"**{escape_text(spec.label)}**", "", rendered, ""]
                else:
                    body += [f"**{escape_text(spec.label)}:** {rendered}", ""]
            if body:
                lines += [f"## {escape_text(section.title)}", "", *body]
    if answered:  # unknown template, or answers it does not know
        lines += ["## Answers" if template is None else "## Other answers", ""]
        lines += _plain_answers(answered)
    if record.earlier:
        lines += ["## Answers to an earlier version of this template", ""]
        lines += _plain_answers(record.earlier)
    return "\n".join(lines).rstrip() + "\n"


def _plain_answers(values: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key, value in values.items():
        if isinstance(value, str):
            text = escape_text(value)
        else:
            text = "`" + json.dumps(value, ensure_ascii=False).replace("`", "'") + "`"
        lines += [f"**{escape_text(_humanise(key))}:** {text}", ""]
    return lines


def sanitise_html(html: str) -> str:
    """Keep formatting; drop scripts, event handlers, styles and unsafe links."""
    return nh3.clean(
        html,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def markdown_to_html(text: str) -> str:
    """Markdown rendered and sanitised, e.g. for a markdown field's preview."""
    rendered = markdown_lib.markdown(text, extensions=["extra", "sane_lists"], output_format="html")
    return sanitise_html(rendered)


def to_html(
    record: AssetRecord,
    template: Template | None,
    names: NameLookup = lambda _id: None,
) -> str:
    """The asset as a sanitised HTML fragment (an <article>)."""
    body = markdown_to_html(to_markdown(record, template, names))
    return f'<article class="cairn-asset">\n{body}\n</article>\n'
