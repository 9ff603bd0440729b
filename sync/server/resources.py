"""Resources the organisation pushes down to members' devices: form templates (TOML
files), documents (any file) and links. Publishing under a name already used in the
workspace makes a new version; every version is kept.

Every member's devices hear of each new version by pull (a ``resource`` event whose
data is the ResourceInfo); a member who joins later is sent the latest version of each
resource when their first device enrols. Files are kept in the blob store.
"""

from __future__ import annotations

import mimetypes
import re
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from sync.protocol import ResourceInfo
from sync.server import blobs, enrolment, events
from sync.server.config import ServerSettings
from sync.server.errors import Conflict, NotFound, TooLarge, Unprocessable
from sync.server.models import Membership, Resource, ResourceVersion, User, Workspace

KINDS = ("template", "document", "link")
#: The desktop app refuses template files larger than this; so does the server.
MAX_TEMPLATE_BYTES = 1024 * 1024
MAX_URL = 2000
TEMPLATE_MEDIA_TYPE = "application/toml"
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")


class InvalidResource(Unprocessable):
    code = "invalid_resource"


def publish(
    session: Session,
    settings: ServerSettings,
    workspace: Workspace,
    *,
    name: str,
    kind: str,
    content: bytes | None = None,
    url: str | None = None,
    media_type: str | None = None,
    created_by: User | None = None,
) -> ResourceVersion:
    """Publish ``name`` in ``workspace`` (a new version if the name is taken) and queue it
    for every member's devices. The caller commits.

    A template is a TOML file (``content``), a document any file (``content``, with its
    ``media_type``), a link an http(s) ``url``. InvalidResource (422) if it is not one
    of those, TooLarge if the file is over the attachment limit, Conflict
    ``kind_mismatch`` if the name is already used for another kind.
    """
    name = " ".join(name.split())
    if not 1 <= len(name) <= 200:
        raise InvalidResource("a resource needs a name of 1 to 200 characters")
    if kind not in KINDS:
        raise InvalidResource(f"the kind must be one of {', '.join(KINDS)}")
    if kind == "link":
        if content is not None:
            raise InvalidResource("a link has a URL, not a file")
        url = _check_url(url)
        media_type = None
    else:
        if url is not None:
            raise InvalidResource(f"a {kind} is a file, not a URL")
        if content is None:
            raise InvalidResource(f"a {kind} needs a file")
        if len(content) > settings.max_attachment_bytes:
            raise TooLarge(f"a file may be at most {settings.max_attachment_bytes} bytes")
        if kind == "template":
            _check_template(content)
            media_type = TEMPLATE_MEDIA_TYPE
        else:
            media_type = _check_media_type(media_type or "application/octet-stream")

    # One publisher at a time per workspace, so that versions count up without gaps and
    # a name is never made into two resources (SQLite: the transaction's write lock).
    session.exec(select(Workspace.id).where(col(Workspace.id) == workspace.id).with_for_update())
    resource = session.exec(
        select(Resource).where(
            col(Resource.workspace_id) == workspace.id, col(Resource.name) == name
        )
    ).first()
    if resource is None:
        resource = Resource(workspace_id=workspace.id, name=name, kind=kind)
        session.add(resource)
        session.flush()
    elif resource.kind != kind:
        raise Conflict(f"{name!r} is a {resource.kind} here; publish the {kind} under another name",
                       code="kind_mismatch")  # fmt: skip
    latest = session.exec(
        select(func.max(ResourceVersion.version)).where(
            col(ResourceVersion.resource_id) == resource.id
        )
    ).one()
    sha256 = blobs.store_bytes(session, settings, content) if content is not None else None
    version = ResourceVersion(
        resource_id=resource.id, version=(latest or 0) + 1, sha256=sha256,
        size=len(content) if content is not None else None, media_type=media_type, url=url,
        created_by=created_by.id if created_by else None,
    )  # fmt: skip
    session.add(version)
    session.flush()
    data = info(resource, version).model_dump(mode="json")
    members = session.exec(
        select(Membership).where(col(Membership.workspace_id) == workspace.id)
    ).all()
    for membership in members:
        events.publish(session, membership, "resource", data)
    return version


def _check_template(content: bytes) -> None:
    if len(content) > MAX_TEMPLATE_BYTES:
        raise InvalidResource(f"a template file is at most {MAX_TEMPLATE_BYTES} bytes")
    try:
        tomllib.loads(content.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidResource("a template file is UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidResource(f"the template is not valid TOML: {exc}") from exc


def _check_url(url: str | None) -> str:
    url = (url or "").strip()
    if not url or len(url) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidResource(f"a link needs a URL of at most {MAX_URL} characters, no spaces")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidResource("this URL cannot be read") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidResource("a link is an http:// or https:// address")
    return url


def _check_media_type(media_type: str) -> str:
    media_type = media_type.strip().lower()
    if not _MEDIA_TYPE.match(media_type):
        raise InvalidResource(f"{media_type!r} is not a media type such as application/pdf")
    return media_type


# ------------------------------------------------------------------- reading


def info(resource: Resource, version: ResourceVersion) -> ResourceInfo:
    return ResourceInfo(
        id=uuid.UUID(resource.id),
        workspace_id=uuid.UUID(resource.workspace_id),
        name=resource.name,
        kind=resource.kind,  # type: ignore[arg-type]
        version=version.version,
        sha256=version.sha256,
        size=version.size,
        media_type=version.media_type,
        url=version.url,
        created_at=version.created_at,
    )


def latest(session: Session, workspace_id: str) -> list[ResourceInfo]:
    """The newest version of every resource in the workspace, by name."""
    newest = (
        select(
            col(ResourceVersion.resource_id).label("resource_id"),
            func.max(ResourceVersion.version).label("version"),
        )
        .group_by(col(ResourceVersion.resource_id))
        .subquery()
    )
    rows = session.exec(
        select(Resource, ResourceVersion)
        .join(newest, newest.c.resource_id == col(Resource.id))
        .join(
            ResourceVersion,
            and_(
                col(ResourceVersion.resource_id) == col(Resource.id),
                col(ResourceVersion.version) == newest.c.version,
            ),
        )
        .where(col(Resource.workspace_id) == workspace_id)
        .order_by(col(Resource.name))
    ).all()
    return [info(resource, version) for resource, version in rows]


def version_in(
    session: Session, workspace_id: str, resource_id: str, version: int
) -> tuple[Resource, ResourceVersion]:
    """One version of a resource of this workspace (NotFound for any other workspace's)."""
    resource = session.get(Resource, resource_id)
    if resource is None or resource.workspace_id != workspace_id:
        raise NotFound("this workspace has no such resource", code="resource_not_found")
    row = session.exec(
        select(ResourceVersion).where(
            col(ResourceVersion.resource_id) == resource_id,
            col(ResourceVersion.version) == version,
        )
    ).first()
    if row is None:
        raise NotFound("this resource has no such version", code="resource_not_found")
    return resource, row


@dataclass(frozen=True)
class StoredFile:
    path: Path
    media_type: str
    file_name: str


def stored_file(
    session: Session, settings: ServerSettings, workspace_id: str, resource_id: str, version: int
) -> StoredFile:
    """Where the file of one version of a template or document of this workspace is;
    NotFound for a link (it has no file) or another workspace's resource."""
    resource, row = version_in(session, workspace_id, resource_id, version)
    if row.sha256 is None:
        raise NotFound("a link has no file; its address is in the resource", code="no_file")
    path = blobs.blob_path(settings, row.sha256)
    if not path.is_file():
        raise NotFound("the file of this resource is missing on the server", code="file_missing")
    return StoredFile(path, row.media_type or "application/octet-stream", file_name(resource, row))


def file_name(resource: Resource, version: ResourceVersion) -> str:
    """A safe file name to save a version as: the resource's name and a fitting suffix."""
    stem = re.sub(r"[^\w .-]+", "_", resource.name).strip(" ._")[:100] or "resource"
    if resource.kind == "template":
        return f"{stem}.toml"
    suffix = mimetypes.guess_extension(version.media_type or "") or ""
    return stem if stem.lower().endswith(suffix) else stem + suffix


# ----------------------------------------------------------------- enrolment


def _send_to_new_member(session: Session, membership: Membership, is_new_member: bool) -> None:
    """A member's first device gets the latest version of every resource; later devices
    pull the same events from the start."""
    if not is_new_member:
        return
    for resource in latest(session, membership.workspace_id):
        events.publish(session, membership, "resource", resource.model_dump(mode="json"))


if _send_to_new_member not in enrolment.after_enrol_hooks:
    enrolment.after_enrol_hooks.append(_send_to_new_member)
