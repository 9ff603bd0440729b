"""Open exports (HTML portfolio, Markdown, PDF, LEAP2A) and the imports from other
ePortfolios (LEAP2A, Markdown folders), registered with app.transfer on import."""

from __future__ import annotations

from app.exports.html import export_html
from app.exports.leap2a import export_leap2a
from app.exports.markdown import export_markdown
from app.exports.pdf import export_pdf
from app.imports.leap2a import import_leap2a
from app.imports.markdown import import_markdown
from app.transfer import register_exporter, register_importer

register_exporter("html", export_html)
register_exporter("markdown", export_markdown)
register_exporter("pdf", export_pdf)
register_exporter("leap2a", export_leap2a)
register_importer("leap2a", import_leap2a)
register_importer("markdown", import_markdown)
