"""HTML from other ePortfolios turned into Markdown a person can go on editing.

Covers what blog posts and descriptions use (paragraphs, emphasis, links,
lists, headings, quotes, code, images, tables as plain rows). Scripts, styles
and unknown markup keep only their text; links keep only safe schemes.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_INLINE_SPECIALS = re.compile(r"([\\`*_\[\]])")
_LINE_START = re.compile(r"^(\s*)([#>+\-]|\d+[.)])(?=\s)", re.MULTILINE)
_TAG_LIKE = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY_LIKE = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
SAFE_SCHEMES = ("http://", "https://", "mailto:")
_BLOCKS = {"p", "div", "section", "article", "header", "footer", "figure", "figcaption",
           "table", "tr", "dl", "dt", "dd", "address", "main", "aside", "nav"}  # fmt: skip
_SKIP = {"script", "style", "head", "title", "template", "noscript", "object", "embed"}


def _escape(text: str) -> str:
    text = _INLINE_SPECIALS.sub(r"\\\1", text)
    text = _ENTITY_LIKE.sub("&amp;", text)
    return _TAG_LIKE.sub("&lt;", text)


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.lists: list[list[int]] = []  # per open list: [is_ordered, next number]
        self.quotes: list[int] = []  # where each open blockquote's text starts in `out`
        self.pre = 0
        self.skip = 0
        self.links: list[str | None] = []

    # Output helpers ------------------------------------------------------
    def _block(self) -> None:
        text = "".join(self.out[-2:])
        if self.out and not text.endswith("\n\n"):
            self.out.append("\n" if text.endswith("\n") else "\n\n")

    # Parser callbacks ----------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip or tag in _SKIP:
            self.skip += tag in _SKIP
            return
        attributes = dict(attrs)
        if tag in _BLOCKS:
            self._block()
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._block()
            self.out.append("#" * int(tag[1]) + " ")
        elif tag == "br":
            self.out.append("  \n")
        elif tag == "hr":
            self._block()
            self.out.append("---\n\n")
        elif tag in ("strong", "b"):
            self.out.append("**")
        elif tag in ("em", "i"):
            self.out.append("*")
        elif tag == "code" and not self.pre:
            self.out.append("`")
        elif tag == "pre":
            self._block()
            self.out.append("```\n")
            self.pre += 1
        elif tag == "blockquote":
            self._block()
            self.quotes.append(len(self.out))
        elif tag in ("ul", "ol"):
            if not self.lists:
                self._block()
            self.lists.append([tag == "ol", 1])
        elif tag == "li":
            depth = max(len(self.lists) - 1, 0)
            ordered, number = self.lists[-1] if self.lists else [False, 1]
            marker = f"{number}." if ordered else "-"
            if self.lists:
                self.lists[-1][1] += 1
            text = "".join(self.out)
            if text and not text.endswith("\n"):
                self.out.append("\n")
            self.out.append("    " * depth + marker + " ")
        elif tag == "a":
            href = (attributes.get("href") or "").strip()
            safe = href if href.lower().startswith(SAFE_SCHEMES) else None
            self.links.append(safe)
            if safe:
                self.out.append("[")
        elif tag == "img":
            src = (attributes.get("src") or "").strip()
            alt = _escape(attributes.get("alt") or "")
            if src and not src.lower().startswith(("javascript:", "data:")):
                self.out.append(f"![{alt}]({src.replace(' ', '%20').replace(')', '%29')})")
            elif alt:
                self.out.append(alt)
        elif tag in ("td", "th"):
            self.out.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if self.skip:
            self.skip -= tag in _SKIP
            return
        if tag in _BLOCKS or tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._block()
        elif tag in ("strong", "b"):
            self.out.append("**")
        elif tag in ("em", "i"):
            self.out.append("*")
        elif tag == "code" and not self.pre:
            self.out.append("`")
        elif tag == "pre" and self.pre:
            self.pre -= 1
            self.out.append("\n```")
            self._block()
        elif tag == "blockquote" and self.quotes:
            start = self.quotes.pop()
            inner = "".join(self.out[start:]).strip("\n")
            del self.out[start:]
            self.out.append("\n".join(f"> {line}".rstrip() for line in inner.split("\n")))
            self._block()
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            if not self.lists:
                self._block()
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href:
                self.out.append(f"]({href.replace(' ', '%20').replace(')', '%29')})")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            self.out.append(data)
            return
        text = re.sub(r"\s+", " ", data)
        if "".join(self.out[-1:]).endswith(("\n", " ")) or not self.out:
            text = text.lstrip()
        self.out.append(_escape(text))


def html_to_markdown(html: str) -> str:
    """Markdown for an HTML fragment (a best effort: the words are never lost)."""
    converter = _Converter()
    converter.feed(html)
    converter.close()
    text = "".join(converter.out)
    lines = [line.rstrip() if not line.endswith("  ") else line for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n ").rstrip() + ("\n" if text.strip() else "")


def plain_to_markdown(text: str) -> str:
    """Plain text (Atom type="text") as Markdown that shows it as written."""
    escaped = _escape(text.strip())
    escaped = _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)
    # Single line breaks are kept as breaks, not joined into one paragraph.
    return re.sub(r"(?<!\n)\n(?!\n)", "  \n", escaped) + ("\n" if escaped else "")
