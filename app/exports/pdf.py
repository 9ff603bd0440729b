"""PDF of one asset or a selection: the rendered HTML laid out by Qt (QtGui only).

Each asset starts on a new page; image attachments are embedded, scaled to the
page. Works headless: when no Qt application exists yet, one is made on the
offscreen platform (from the main thread only; the desktop app has its own).
"""

from __future__ import annotations

import html
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from app.exports.bundle import (
    ExportError,
    ExportItem,
    NameLookup,
    Steps,
    gather,
    is_image,
    read_attachment,
    report_for,
    selected_records,
)
from app.forms.library import TemplateLibrary
from app.forms.render import to_html
from app.space import THUMBNAIL_SOURCE_LIMIT, Space
from app.transfer import ExportJob, TransferReport
from store.records import AttachmentInfo

#: Widest an embedded image is drawn, in CSS pixels (about the A4 text width).
IMAGE_WIDTH = 480
#: Images are decoded at no more than this many pixels on their longest side.
IMAGE_DECODE_SIDE = 2000
MAX_IMAGE_PIXELS = 100_000_000

_STYLE = """
body { font-family: serif; font-size: 11pt; color: #1f2328; }
h1 { font-family: sans-serif; font-size: 20pt; margin-bottom: 4pt; }
h2 { font-family: sans-serif; font-size: 13pt; margin-top: 14pt; }
h3 { font-family: sans-serif; font-size: 11pt; }
p.facts { font-family: sans-serif; font-size: 9pt; color: #57606a; }
p.caption { font-family: sans-serif; font-size: 8pt; color: #57606a; }
td, th { padding: 3pt; }
"""

_app: Any = None  # the QGuiApplication made here, kept alive for the process


class PdfUnavailable(ExportError):
    """Qt cannot render here (no QtGui libraries, or not on the main thread)."""


def _ensure_gui_application() -> None:
    """Make sure a QGuiApplication exists; create an offscreen one only if none does."""
    global _app
    try:
        from PySide6.QtGui import QGuiApplication
    except ImportError as error:  # pragma: no cover - depends on the machine
        raise PdfUnavailable(f"Qt's GUI libraries are not available: {error}") from error
    if QGuiApplication.instance() is not None:
        return
    if threading.current_thread() is not threading.main_thread():
        raise PdfUnavailable("a PDF can only be made on the main thread when no app is running")
    platform = os.environ.get("QT_QPA_PLATFORM") or "offscreen"
    _app = QGuiApplication(["cairn", "-platform", platform])


def _image_resource(data: bytes) -> Any:
    """A QImage of the bytes, decoded at a bounded size, or None if it is not an image."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
    from PySide6.QtGui import QImageReader

    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    if not buffer.open(QIODevice.OpenModeFlag.ReadOnly):
        return None
    reader = QImageReader(buffer)
    reader.setAutoTransform(True)
    declared = reader.size()
    if not declared.isValid() or declared.isEmpty():
        return None
    if declared.width() * declared.height() > MAX_IMAGE_PIXELS:
        return None
    side = IMAGE_DECODE_SIDE
    if declared.width() > side or declared.height() > side:
        fitted = declared.scaled(QSize(side, side), Qt.AspectRatioMode.KeepAspectRatio)
        reader.setScaledSize(fitted.expandedTo(QSize(1, 1)))
    image = reader.read()
    return None if image.isNull() else image


def _asset_html(item: ExportItem, names: NameLookup, images: dict[str, tuple[int, int]]) -> str:
    record = item.record
    facts = [item.template_name]
    if item.moment:
        facts.append(item.moment)
    if record.tags:
        facts.append("tags: " + ", ".join(record.tags))
    parts = [to_html(record, item.template, names)]
    for info in item.attachments:
        if info.id in images:
            width, height = images[info.id]
            scale = min(1.0, IMAGE_WIDTH / max(width, 1))
            parts.append(
                f'<p><img src="cairn-image:{info.id}" width="{round(width * scale)}"'
                f' height="{round(height * scale)}"></p>'
                f'<p class="caption">{html.escape(info.name)}</p>'
            )
    others = [info for info in item.attachments if info.id not in images]
    if others:
        listed = "".join(f"<li>{html.escape(info.name)}</li>" for info in others)
        parts.append(f"<h2>Files</h2><ul>{listed}</ul>")
    return "\n".join(parts)


def _read_image(space: Space, info: AttachmentInfo) -> bytes | None:
    if not is_image(info) or info.size > THUMBNAIL_SOURCE_LIMIT:
        return None
    return b"".join(read_attachment(space, info))


def export_pdf(job: ExportJob, *, title: str = "Learning portfolio") -> TransferReport:
    """Write the selection to the PDF file `job.out`, each asset from a new page."""
    title = job.title or title
    _ensure_gui_application()
    from PySide6.QtCore import QMarginsF, QUrl
    from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument

    space = job.space
    records, skipped = selected_records(job)
    items = gather(space, records, TemplateLibrary.load())
    names = NameLookup(space, items)
    steps = Steps(len(items) + 1, job.report_progress, job.cancelled)
    steps.check()
    document = QTextDocument()
    document.setDefaultStyleSheet(_STYLE)
    document.setMetaInformation(QTextDocument.MetaInformation.DocumentTitle, title)
    bodies: list[str] = []
    for index, item in enumerate(items):
        sizes: dict[str, tuple[int, int]] = {}
        for info in item.attachments:
            data = _read_image(space, info)
            image = _image_resource(data) if data else None
            if image is not None:
                document.addResource(
                    QTextDocument.ResourceType.ImageResource,
                    QUrl(f"cairn-image:{info.id}"),
                    image,
                )
                sizes[info.id] = (image.width(), image.height())
        # Qt honours page-break-before on block elements when it paginates.
        style = ' style="page-break-before: always"' if index else ""
        bodies.append(f"<div{style}>{_asset_html(item, names, sizes)}</div>")
        steps.advance()
    document.setHtml(f"<html><body>{''.join(bodies)}</body></html>")
    out = Path(job.out)
    descriptor, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(descriptor)
    temporary = Path(name)
    try:
        writer = QPdfWriter(str(temporary))
        writer.setTitle(title)
        writer.setCreator("Cairn")
        writer.setResolution(300)
        writer.setPageLayout(
            QPageLayout(
                QPageSize(QPageSize.PageSizeId.A4),
                QPageLayout.Orientation.Portrait,
                QMarginsF(18, 18, 18, 20),
                QPageLayout.Unit.Millimeter,
            )
        )
        document.print_(writer)
        del writer  # finishes and closes the file
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    steps.advance()
    report = report_for("pdf", items, out, skipped)
    report.details["images"] = sum(1 for item in items for info in item.attachments
                                   if is_image(info))  # fmt: skip
    return report
