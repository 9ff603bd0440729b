"""How the web pages are made: Jinja templates in ``pages/`` with autoescape on, and
snapshots (submissions, shares) rendered so that nothing a member sends can run.

Plain answers are escaped by Jinja. Markdown answers go through ``markdown`` and then
``nh3``, which keeps formatting and drops script, event handlers, styles, images and
links that are not http, https or mailto. The signature over the stored bytes is checked
again every time a snapshot is shown.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import markdown as markdown_lib
import nh3
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from sync.protocol import AssetSnapshot, BadSignature, key_id, verify_bytes
from sync.server import reviews
from sync.server.blobs import blob_path
from sync.server.config import ServerSettings
from sync.server.websession import SignedIn

PAGES = Path(__file__).with_name("pages")
STATIC = Path(__file__).with_name("static")
#: Attachments shown as pictures on a page; anything else (SVG and HTML above all) is
#: only ever a download.
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(PAGES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = format_when
    env.filters["size"] = format_size
    env.filters["decision"] = lambda d: reviews.DECISION_LABELS.get(d or "", d or "")
    return env


@lru_cache(maxsize=1)
def css_url() -> str:
    digest = hashlib.sha256((STATIC / "cairn.css").read_bytes()).hexdigest()[:12]
    return f"/static/cairn.css?v={digest}"


def format_when(moment: datetime | None, zone: bool = True) -> str:
    """``23 Nov 2026, 14:05 UTC`` (times are stored and shown in UTC)."""
    if moment is None:
        return ""
    return moment.strftime("%-d %b %Y, %H:%M" + (" UTC" if zone else ""))


def format_size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            return f"{value:.1f} {unit}"
    return f"{size} bytes"  # not reached


def render(
    request: Request,
    name: str,
    *,
    status: int = 200,
    signed_in: SignedIn | None = None,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page from ``pages/``; nothing a page shows is ever cached."""
    settings: ServerSettings = request.app.state.settings
    html = (
        environment()
        .get_template(name)
        .render(
            server_name=settings.name,
            signed_in=signed_in,
            css=css_url(),
            **context,
        )
    )
    return HTMLResponse(
        html, status_code=status, headers={**(headers or {}), "Cache-Control": "no-store"}
    )


_MARKDOWN_TAGS = set(nh3.ALLOWED_TAGS) - {"img", "map", "area"}


def markdown_html(text: str) -> Markup:
    """Markdown made HTML and then sanitised: no script, handlers, styles or unsafe links."""
    rendered = markdown_lib.markdown(text, extensions=["extra", "sane_lists"])
    return Markup(  # safe: nh3 has just sanitised it
        nh3.clean(
            rendered,
            tags=_MARKDOWN_TAGS,
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
        )
    )


def render_value(value: Any, kind: str = "text", depth: int = 0) -> Markup:
    """A field's answer as safe HTML: Markdown sanitised, everything else escaped."""
    if value is None or value == "" or value == [] or value == {}:
        return Markup('<p class="empty">No answer</p>')
    if depth > 6:
        return Markup('<pre class="raw">%s</pre>') % json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        if kind == "markdown":
            return Markup('<div class="markdown">%s</div>') % markdown_html(value)
        return Markup('<p class="text">%s</p>') % value
    if isinstance(value, bool):
        return Markup('<p class="text">%s</p>') % ("Yes" if value else "No")
    if isinstance(value, int | float):
        return Markup('<p class="text">%s</p>') % value
    if isinstance(value, list):
        items = Markup("").join(
            Markup("<li>%s</li>") % render_value(item, kind, depth + 1) for item in value
        )
        return Markup('<ul class="answers">%s</ul>') % items
    if isinstance(value, dict):
        pairs = Markup("").join(
            Markup("<dt>%s</dt><dd>%s</dd>") % (key, render_value(item, kind, depth + 1))
            for key, item in value.items()
        )
        return Markup('<dl class="answers">%s</dl>') % pairs
    return Markup('<p class="text">%s</p>') % str(value)


@dataclass(frozen=True)
class FieldView:
    label: str
    name: str
    kind: str
    html: Markup


@dataclass(frozen=True)
class AttachmentView:
    name: str
    size: int
    media_type: str
    url: str
    inline: bool


@dataclass(frozen=True)
class AssetView:
    title: str
    kind: str
    template: str
    template_version: str | None
    status: str
    created: str
    updated: str
    version: int
    tags: list[str]
    skills: list[str]
    fields: list[FieldView]
    attachments: list[AttachmentView]


def asset_views(
    assets: list[AssetSnapshot], settings: ServerSettings, url_for: Callable[[str], str]
) -> list[AssetView]:
    return [
        AssetView(
            title=asset.title,
            kind=asset.kind,
            template=asset.template,
            template_version=asset.template_version,
            status=asset.status,
            created=asset.created,
            updated=asset.updated,
            version=asset.version,
            tags=list(asset.tags),
            skills=list(asset.skills),
            fields=[
                FieldView(
                    label=f.label or f.name,
                    name=f.name,
                    kind=f.type,
                    html=render_value(f.value, f.type),
                )
                for f in asset.fields
            ],
            attachments=[
                AttachmentView(
                    name=a.name,
                    size=a.size,
                    media_type=a.media_type,
                    url=url_for(a.sha256),
                    inline=a.media_type in INLINE_IMAGES
                    and blob_file(settings, a.sha256).is_file(),
                )
                for a in asset.attachments
            ],
        )
        for asset in assets
    ]


@dataclass(frozen=True)
class SignatureView:
    valid: bool
    fingerprint: str


def signature_view(
    identity_key_hex: str, purpose: str, body: bytes, signature: str
) -> SignatureView:
    """The signature checked again now, over the stored bytes."""
    try:
        identity = bytes.fromhex(identity_key_hex)
        verify_bytes(identity, purpose, body, base64.b64decode(signature, validate=True))
    except (BadSignature, ValueError, binascii.Error):
        return SignatureView(valid=False, fingerprint=_fingerprint(identity_key_hex))
    return SignatureView(valid=True, fingerprint=_fingerprint(identity_key_hex))


def _fingerprint(identity_key_hex: str) -> str:
    try:
        digits = key_id(bytes.fromhex(identity_key_hex))
    except ValueError:
        return "unreadable key"
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def blob_file(settings: ServerSettings, sha256: str) -> Path:
    """Where a complete attachment lives (content-addressed, see blobs.py)."""
    return blob_path(settings, sha256) if _SHA256.match(sha256) else settings.files_dir / "none"
