"""Issue 25, major 4: nothing clipped at a 1024x600 screen's usable size, the first-launch size and a large
size ("Save into p", reasons cut at both ends, "Mode", "BLEU-4 (tes"). Clipped means a control drawn
smaller than the size it asks for, or reaching past the window's edge; a table's columns wider than it."""
import tkinter
from tkinter import ttk

import pytest

from app.constants import MIN_WINDOW, Page
from app.event_loop import run_for, run_until
from app.models.settings import Settings

SIZES = ["1024x560", Settings().geometry, "1400x900"]  # a 1024x600 screen less a task bar; first launch; large
CHECKED = ("CTkLabel", "CTkButton", "CTkOptionMenu", "CTkSwitch", "CTkEntry")


def _rect(widget, left, top):
    x, y = widget.winfo_rootx() - left, widget.winfo_rooty() - top
    return x, y, x + widget.winfo_width(), y + widget.winfo_height()


def clipped(window) -> list:
    """Every shown control of the window that is clipped, as (kind, text, asked size, drawn place): drawn
    smaller than it asks, or reaching out of any frame around it (or the window)."""
    found = []
    left, top = window.winfo_rootx(), window.winfo_rooty()

    def walk(widget, room):
        for child in widget.winfo_children():
            if isinstance(child, tkinter.Toplevel) or not child.winfo_viewable():
                continue
            x0, y0, x1, y1 = _rect(child, left, top)
            kind = type(child).__name__
            if kind in CHECKED or isinstance(child, ttk.Treeview):
                asked = (child.winfo_reqwidth(), child.winfo_reqheight())
                if isinstance(child, ttk.Treeview):
                    asked = (sum(child.column(c, "width") for c in child["columns"]), 0)
                text = child.cget("text") if kind in ("CTkLabel", "CTkButton", "CTkSwitch") else ""
                outside = x0 < room[0] - 1 or y0 < room[1] - 1 or x1 > room[2] + 1 or y1 > room[3] + 1
                if x1 - x0 < asked[0] - 2 or y1 - y0 < asked[1] - 2 or outside:
                    found.append((kind, str(text)[:40], asked, (x0, y0, x1, y1), room))
                continue
            walk(child, (max(room[0], x0), max(room[1], y0), min(room[2], x1), min(room[3], y1)))

    walk(window, (0, 0, window.winfo_width(), window.winfo_height()))
    return found


def test_the_smallest_window_fits_a_1024x600_screen():
    assert MIN_WINDOW[0] <= 1024 and MIN_WINDOW[1] <= 560


@pytest.mark.parametrize("size", SIZES)
def test_nothing_is_clipped_on_any_page(app, size):
    from tests.app.test_gui import SAMPLES

    app.caption.open_photo(SAMPLES / "cat.jpg")  # an unsure caption: the longest text the page shows
    run_until(app.update, lambda: app.pages[Page.CAPTION].get_confidence(), 60, "a caption")
    app.geometry(size)
    problems = {}
    for page in Page:
        app.show_page(page)
        run_for(app.update, 0.5)
        assert f"{app.winfo_width()}x{app.winfo_height()}" == size
        problems[page.value] = clipped(app)
    assert not any(problems.values()), problems
