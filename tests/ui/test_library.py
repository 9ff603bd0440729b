"""The library: tags and skills in the sidebar, sorting, status, highlighted search results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QColor, QPalette, QTextDocument

from app.forms.answers import summary_facts
from app.forms.library import TemplateLibrary
from app.space import Space
from store.kdf import KdfPolicy
from store.spacefile import NewAsset
from tests.conftest import PASSPHRASE
from ui.library import (
    COUNT_ROLE,
    RICH_TEXT_ROLE,
    SNIPPET_ROLE,
    STATUS,
    TAGS,
    TITLE,
    UPDATED,
    Facet,
    LibraryPage,
)
from ui.main_window import MainWindow

#: (template, title, answers, tags, created). The timestamps carry different UTC offsets:
#: "Week 9 plan" is the newest moment although its text sorts first.
ASSETS: list[tuple[str, str, dict[str, Any], list[str], str]] = [
    ("smart-plan", "Week 10 plan", {"specific": "Harbour the budget", "status": "in-progress"},
     ["SQL", "planning"], "2026-05-01T10:00:00+00:00"),
    ("smart-plan", "Week 9 plan", {"specific": "Ship the report", "status": "done"},
     ["sql"], "2026-05-01T09:30:00-03:00"),
    ("evidence", "apple tasting notes", {"caption": "Photo", "skills": ["Facilitation"]},
     ["food"], "2026-04-20T08:00:00+00:00"),
    ("experience", "Zulu harbour visit", {"what_happened": "We toured the harbour.",
                                           "skills": ["facilitation", "Listening"]},
     [], "2026-03-02T08:00:00+00:00"),
    ("journal", "<b>Bold</b> claims", {"entry": "I wrote <i>harbour</i> & more, once."},
     ["planning"], "2026-02-01T08:00:00+00:00"),
]  # fmt: skip


@pytest.fixture
def window(qtbot, tmp_path: Path, kdf_policy: KdfPolicy):  # type: ignore[no-untyped-def]
    """The real window, unlocked on a space holding ASSETS, showing All items."""
    path = tmp_path / "library.cairn"
    space, _ = Space.create(path, PASSPHRASE, kdf_policy=kdf_policy)
    library = TemplateLibrary.load()
    news = []
    for template_id, title, answers, tags, created in ASSETS:
        template = library.get(template_id)
        skills, status = summary_facts(template, answers)
        news.append(NewAsset(template.qualified_id, title, answers, tags, [], template.version,
                             created, skills, status))  # fmt: skip
    space.add_assets(news)
    space.lock()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("spaces/recent", [str(path)])
    main = MainWindow(kdf_policy=kdf_policy, settings=settings)
    qtbot.addWidget(main)
    main.resize(1100, 720)
    main.show()
    page = main.unlock_page
    qtbot.keyClicks(page.passphrase, PASSPHRASE)
    qtbot.keyClick(page.passphrase, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: main.library.model.rowCount() == len(ASSETS), timeout=10000)
    main.library.sidebar.setCurrentRow(1)  # All items (the dashboard shows first)
    yield main
    main.lock()
    main.runner.wait()


def titles(library: LibraryPage) -> list[str]:
    """The titles in the list, top to bottom, as a person sees them."""
    assert library.content.currentWidget() is library.table
    model = library.model
    return [model.index(row, TITLE).data() for row in range(model.rowCount())]


def sidebar_entries(library: LibraryPage, field: str) -> dict[str, int]:
    sidebar = library.sidebar
    entries = {}
    for row in range(sidebar.count()):
        item = sidebar.item(row)
        facet = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(facet, Facet) and facet.field == field:
            entries[item.text()] = item.data(COUNT_ROLE)
    return entries


def click_sidebar(qtbot, library: LibraryPage, text: str) -> None:  # type: ignore[no-untyped-def]
    [item] = library.sidebar.findItems(text, Qt.MatchFlag.MatchExactly)
    rect = library.sidebar.visualItemRect(item)
    qtbot.mouseClick(library.sidebar.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def click_header(qtbot, library: LibraryPage, column: int) -> None:  # type: ignore[no-untyped-def]
    header = library.table.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2)
    )


def test_tags_and_skills_are_listed_with_counts_and_filter_the_list(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow
) -> None:
    library = window.library
    # Spelt differently, counted together (shown as most spell it; on a tie, as listed first).
    assert sidebar_entries(library, "tags") == {"SQL": 2, "food": 1, "planning": 2}
    assert sidebar_entries(library, "skills") == {"Facilitation": 2, "Listening": 1}

    click_sidebar(qtbot, library, "SQL")
    assert titles(library) == ["Week 9 plan", "Week 10 plan"]
    click_sidebar(qtbot, library, "Facilitation")
    assert titles(library) == ["apple tasting notes", "Zulu harbour visit"]
    click_sidebar(qtbot, library, "Skills")  # a heading: choosing it changes nothing
    assert titles(library) == ["apple tasting notes", "Zulu harbour visit"]

    # The arrow keys step over the headings, from the last kind to the first tag.
    click_sidebar(qtbot, library, "Captured")
    qtbot.keyClick(library.sidebar, Qt.Key.Key_Down)
    assert library.sidebar.currentItem().text() == "food"
    assert titles(library) == ["apple tasting notes"]


def test_a_chosen_tag_survives_saves_and_says_when_nothing_has_it_any_more(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow
) -> None:
    library, space = window.library, window.space
    assert space is not None
    click_sidebar(qtbot, library, "food")
    assert titles(library) == ["apple tasting notes"]
    journal = space.add_asset("builtin/journal", "Lunch", {"entry": "Soup"}, ["food"])
    window.refresh_library()
    qtbot.waitUntil(lambda: sidebar_entries(library, "tags").get("food") == 2, timeout=10000)
    assert library.sidebar.currentItem().text() == "food"
    assert titles(library) == ["Lunch", "apple tasting notes"]

    apple = next(s for s in space.list_assets()[0] if s.title == "apple tasting notes")
    space.edit_asset(apple.id, tags=[])
    space.edit_asset(journal.id, tags=["lunch"])
    window.refresh_library()
    qtbot.waitUntil(lambda: library.content.currentWidget() is library.empty, timeout=10000)
    assert library.empty.text().startswith("Nothing is tagged “food” any more.")
    assert library.sidebar.currentItem().text() == "food"  # kept while chosen, at 0
    assert sidebar_entries(library, "tags")["food"] == 0
    click_sidebar(qtbot, library, "lunch")
    assert titles(library) == ["Lunch"]


def test_sorting_by_clicking_column_headers(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    library = window.library
    newest_first = ["Week 9 plan", "Week 10 plan", "apple tasting notes", "Zulu harbour visit",
                    "<b>Bold</b> claims"]  # fmt: skip
    assert titles(library) == newest_first  # by the moment, not by the text of the timestamp

    click_header(qtbot, library, TITLE)
    assert titles(library) == ["<b>Bold</b> claims", "apple tasting notes", "Week 9 plan",
                               "Week 10 plan", "Zulu harbour visit"]  # fmt: skip
    click_header(qtbot, library, TITLE)
    assert titles(library)[0] == "Zulu harbour visit"
    assert titles(library)[2] == "Week 9 plan"

    click_header(qtbot, library, UPDATED)
    assert titles(library) == newest_first
    click_header(qtbot, library, UPDATED)
    assert titles(library) == list(reversed(newest_first))

    click_header(qtbot, library, STATUS)  # labels first, blanks last
    statuses = [library.model.index(r, STATUS).data() for r in range(library.model.rowCount())]
    assert statuses == ["Done", "In progress", "", "", ""]

    # The order stays when the list is refreshed after a save, and applies to filters.
    click_header(qtbot, library, TITLE)
    assert window.space is not None
    window.space.add_asset("builtin/smart-plan", "Week 11 plan", {"status": "done"})
    window.refresh_library()
    qtbot.waitUntil(lambda: library.model.rowCount() == len(ASSETS) + 1, timeout=10000)
    assert titles(library) == ["<b>Bold</b> claims", "apple tasting notes", "Week 9 plan",
                               "Week 10 plan", "Week 11 plan", "Zulu harbour visit"]  # fmt: skip
    click_sidebar(qtbot, library, "Plans")
    assert titles(library) == ["Week 9 plan", "Week 10 plan", "Week 11 plan"]


def test_status_column_shows_the_status_label(window: MainWindow) -> None:
    library = window.library
    model = library.model
    assert model.headerData(STATUS, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole) == (
        "Status"
    )
    shown = {
        model.index(r, TITLE).data(): model.index(r, STATUS).data() for r in range(model.rowCount())
    }
    assert shown["Week 10 plan"] == "In progress"  # the option's label, not "in-progress"
    assert shown["Week 9 plan"] == "Done"
    assert shown["Zulu harbour visit"] == ""
    assert model.index(0, TAGS).data() == "sql"


def _marker(colour: QColor, highlight: QColor) -> bool:
    """Whether a pixel has the highlight's hue (text and rows are grey; a marker is not)."""
    return colour.hsvSaturation() > 25 and abs(colour.hsvHue() - highlight.hsvHue()) < 25


def _matched_words(rich_text: str) -> tuple[str, list[str]]:
    """What the rich text reads as, and the words in it drawn bold."""
    document = QTextDocument()
    document.setHtml(rich_text)
    bold = []
    block = document.begin()
    while block.isValid():
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            if fragment.charFormat().fontWeight() > 500:
                bold.append(fragment.text())
            iterator += 1
        block = block.next()
    return document.toPlainText(), bold


def test_search_results_show_the_match_highlighted_and_escaped(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow
) -> None:
    library = window.library
    plain_height = library.table.rowHeight(0)
    click_sidebar(qtbot, library, "SQL")
    qtbot.keyClicks(library.search, "harbour")
    qtbot.waitUntil(lambda: library.model.rowCount() == 3, timeout=10000)
    # A search covers the whole space, and says so; best match (the title) first.
    assert library.sidebar.currentRow() == 1
    assert library.scope.isVisible()
    assert "whole space" in library.scope.text()
    assert titles(library) == ["Zulu harbour visit", "Week 10 plan", "<b>Bold</b> claims"]
    assert library.table.horizontalHeader().sortIndicatorSection() == -1  # relevance

    model = library.model
    bold_row = model.index(2, TITLE)
    parts = bold_row.data(SNIPPET_ROLE)
    assert ("harbour", True) in parts
    assert "".join(text for text, _ in parts) == "I wrote <i>harbour</i> & more, once."
    rich = bold_row.data(RICH_TEXT_ROLE)
    assert "&lt;b&gt;Bold&lt;/b&gt;" in rich
    assert "<b>harbour</b>" in rich
    text, bold = _matched_words(rich)
    assert text == "<b>Bold</b> claims\nI wrote <i>harbour</i> & more, once."
    assert bold == ["harbour"]
    assert _matched_words(model.index(1, TITLE).data(RICH_TEXT_ROLE))[1] == ["Harbour"]
    # The snippet is drawn under the title, not only in a tooltip: the rows grow a line,
    # which has ink in it and the highlight behind the matched word.
    assert library.table.rowHeight(0) > plain_height
    image = library.table.viewport().grab().toImage()
    cell = library.table.visualRect(model.index(0, TITLE))
    background = image.pixelColor(cell.right() - 1, cell.bottom() - 1)
    lower = [
        image.pixelColor(x, y)
        for x in range(cell.left(), cell.right())
        for y in range(cell.top() + cell.height() * 2 // 3, cell.bottom())
    ]
    assert sum(colour != background for colour in lower) > 50
    highlight = library.palette().color(QPalette.ColorRole.Highlight)
    assert any(_marker(colour, highlight) for colour in lower)
    assert model.index(2, TITLE).data(Qt.ItemDataRole.ToolTipRole) == rich

    click_header(qtbot, library, TITLE)  # the person's order replaces relevance
    assert titles(library) == ["<b>Bold</b> claims", "Week 10 plan", "Zulu harbour visit"]
    assert "sorted by Title" in library.scope.text()

    qtbot.keyClicks(library.search, "zzz")
    qtbot.waitUntil(lambda: library.content.currentWidget() is library.empty, timeout=10000)
    assert library.empty.text() == "Nothing in your space matches “harbourzzz”."

    library.search.clear()
    qtbot.waitUntil(lambda: library.model.rowCount() == len(ASSETS), timeout=10000)
    assert not library.scope.isVisible()
    assert library.table.rowHeight(0) == plain_height
    assert model.index(0, TITLE).data(SNIPPET_ROLE) is None
