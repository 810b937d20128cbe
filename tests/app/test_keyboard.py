"""Issue 25, major 1: every page by keyboard alone. Tab and Shift+Tab from the navigation column must reach
every enabled, visible control of the page shown, in reading order, wrap around, and never stop on a
hidden one (their takefocus said yes while unmapped, so Tab went into the hidden Caption page and stuck)."""

import pytest

from app.constants import Page
from app.event_loop import run_until
from app.views.widgets import focus_part
from tests.app.test_gui import _enabled, press


def _walk(start, step, limit=200):
    """Widgets the focus visits from `start` (excluded) until it comes back to `start`; None if it never does."""
    visited, widget = [], start
    for _ in range(limit):
        widget = step(widget)
        if widget is None or str(widget) == str(start):
            return visited if widget is not None else None
        if visited and str(widget) == str(visited[-1]):
            return None  # stuck
        visited.append(widget)
    return None


# The page's controls in reading order, by attribute name, as a user who cannot see it reaches them.
PAGE_CONTROLS = {
    Page.CAPTION: ["open_button", "model_menu", "beam_menu", "auto_speak_switch", "caption_button", "speak_button", "edit_button",
                   "stop_button", "copy_button", "save_button", "into_photo_button", "clear_history_button"],
    Page.TRAIN: ["choose_button", "encoder_menu", "epochs_entry", "advanced_switch", "start_button", "cancel_button",
                 "resume_button", "results_box", "name_entry", "use_button"],
    Page.FOLDER: ["choose_button", "start_button", "cancel_button", "tree", "edit_entry", "errors_box"],
    Page.MODELS: ["tree", "<<ImportModel>>", "<<ExportModel>>", "<<DeleteModel>>", "<<UseModel>>"],
}


def _control(view, name):
    """A control of the page by attribute name, or a Models page button by its event."""
    return view.buttons[name] if name.startswith("<<") else getattr(view, name)


@pytest.mark.parametrize("page", list(Page))
def test_tab_and_shift_tab_reach_the_whole_page_in_order_wrap_and_skip_hidden_controls(app, page):
    app.show_page(page)
    app.update()
    start = focus_part(app.page_buttons[Page.CAPTION])
    forward = _walk(start, lambda w: w.tk_focusNext())
    backward = _walk(start, lambda w: w.tk_focusPrev())
    assert forward is not None and backward is not None, "Tab or Shift+Tab got stuck or never came back"
    hidden = [str(w) for w in forward + backward if not w.winfo_viewable()]
    assert not hidden, hidden
    assert [str(w) for w in backward] == [str(w) for w in reversed(forward)]
    view = app.pages[page]
    names = {str(focus_part(_control(view, name))): name for name in PAGE_CONTROLS[page]}
    reached = [names[str(w)] for w in forward if str(w) in names]
    expected = [name for name in PAGE_CONTROLS[page]
                if _enabled(_control(view, name)) and focus_part(_control(view, name)).winfo_viewable()]
    assert reached == expected
    sidebar = [str(focus_part(button)) for button in app.page_buttons.values()]
    assert [str(w) for w in forward[:len(sidebar) - 1]] == sidebar[1:]  # the navigation column first


def test_tab_leaves_a_text_box_instead_of_typing_a_tab(app):
    """The Folder page's error box took Tab as a character."""
    app.show_page(Page.FOLDER)
    app.update()
    box = focus_part(app.pages[Page.FOLDER].errors_box)
    box.focus_force()
    app.update()
    before = box.get("1.0", "end")
    box.event_generate("<Tab>")
    app.update()
    assert box.get("1.0", "end") == before and str(app.focus_get()) != str(box)
    box.focus_force()
    app.update()
    box.event_generate("<Shift-Tab>")
    app.update()
    assert box.get("1.0", "end") == before and str(app.focus_get()) != str(box)


def test_arrow_keys_move_in_a_table_reached_by_tab(app):
    """Arrow keys did nothing in a table until a row was clicked: reaching it selects its first row."""
    app.show_page(Page.MODELS)
    app.update()
    tree = app.pages[Page.MODELS].tree
    run_until(app.update, tree.get_children, 60, "the models to be listed")
    tree.selection_set(())
    focus_part(app.theme_menu).focus_force()  # the navigation column's last control
    app.update()
    app.focus_get().tk_focusNext().focus_force()  # as Tab does
    app.update()
    assert str(app.focus_get()) == str(tree) and tree.selection() == (tree.get_children()[0],)
    assert tree.focus() == tree.get_children()[0]  # so Down and Up move from it


# What Speak mode must say for each control as Tab reaches it: the page's controls by name, role, state.
EXPECTED_SPEECH = {
    Page.CAPTION: {"open_button": "Open photo…, button", "model_menu": "Model, shipped, list",
                   "beam_menu": "Beam, 5, list", "auto_speak_switch": "Auto-speak, off, switch",
                   "clear_history_button": "Clear history, button"},
    Page.TRAIN: {"choose_button": "Choose data set folder…, button", "encoder_menu": "Encoder, efficientnet-lite2, list",
                 "epochs_entry": "Epochs, 20, text field", "advanced_switch": "Advanced, off, switch",
                 "name_entry": "Name for the new model, empty, text field"},
    Page.FOLDER: {"choose_button": "Choose folder…, button", "tree": "Captions, table, empty"},
    Page.MODELS: {"tree": "Models, table, row 1 of 1: shipped"},
}


@pytest.mark.parametrize("page", list(Page))
def test_speak_mode_says_each_control_tab_reaches_and_the_page(app, page):
    """The same walk as above with Speak mode on (F2): the app's speech log gets one announcement per
    control, in order, naming it, its role and its state; changing page is said too."""
    press(app, "<F2>")
    assert app.announcer.enabled and app.announcer.said[-1].startswith("Speak mode on")
    app.show_page(Page.MODELS if page != Page.MODELS else Page.FOLDER)
    app.show_page(page)
    assert app.announcer.said[-1] == f"{page.value} page"
    app.update()
    view = app.pages[page]
    run_until(app.update, lambda: page != Page.MODELS or view.tree.get_children(), 60, "the models to be listed")
    start = focus_part(app.page_buttons[Page.CAPTION])
    widget, spoken = start, {}
    for _ in range(60):
        widget = widget.tk_focusNext()
        if str(widget) == str(start):
            break
        before = len(app.announcer.said)
        widget.focus_force()
        app.update()
        assert len(app.announcer.said) == before + 1, f"nothing said for {widget}"
        spoken[str(widget)] = app.announcer.said[-1]
    for name, words in EXPECTED_SPEECH[page].items():
        said = spoken.get(str(focus_part(_control(view, name))), "")
        assert said.startswith(words), (name, said)
    press(app, "<F2>")
    assert not app.announcer.enabled and app.announcer.said[-1] == "Speak mode off"


def test_f3_reads_the_caption_page_and_a_caption_is_announced_in_speak_mode(app):
    from tests.app.test_gui import SAMPLES

    press(app, "<F2>")
    app.caption.open_photo(SAMPLES / "cat.jpg")
    run_until(app.update, lambda: app.pages[Page.CAPTION].get_confidence(), 60, "a caption")
    view = app.pages[Page.CAPTION]
    assert app.announcer.said[-1] == f"Caption: {view.get_caption()}"  # auto-speak is off in these tests
    press(app, "<F3>")
    reading = app.announcer.said[-1]
    assert reading.startswith("Photo cat.jpg. " + view.get_caption())
    assert view.get_confidence() in reading and "The encoder sees" in reading and "Model shipped" in reading


def test_ctrl_z_puts_back_the_photo_the_last_save_changed(app, tmp_path):
    from ml.outputs.metadata import read_caption
    from tests.app.test_gui import SAMPLES, answer_question

    photo = tmp_path / "coffee.jpg"
    photo.write_bytes((SAMPLES / "coffee.jpg").read_bytes())
    before = photo.read_bytes()
    app.caption.open_photo(photo)
    view = app.pages[Page.CAPTION]
    run_until(app.update, lambda: view.get_confidence(), 60, "a caption")
    answer_question(app, "no")  # unsure: the caption as it is
    view.into_photo_button.invoke()
    run_until(app.update, lambda: "saved into" in view.status_label.cget("text"), 30, "the caption saved")
    assert read_caption(photo) == app.caption.plain_caption
    focus_part(view.open_button).focus_force()
    app.update()
    app.focus_get().event_generate("<Control-z>")
    run_until(app.update, lambda: view.status_label.cget("text").startswith("Undone: 1 file"), 30, "the undo")
    assert photo.read_bytes() == before and not app.errors


def test_the_caption_can_be_edited_before_it_is_copied_or_saved(app, tmp_path):
    from ml.outputs.metadata import read_caption
    from tests.app.test_gui import SAMPLES

    photo = tmp_path / "coffee.jpg"
    photo.write_bytes((SAMPLES / "coffee.jpg").read_bytes())
    app.caption.open_photo(photo)
    view = app.pages[Page.CAPTION]
    run_until(app.update, lambda: view.get_confidence(), 60, "a caption")
    focus_part(view.edit_button).focus_force()
    app.update()
    focus_part(view.edit_button).event_generate("<space>")  # Edit, by keyboard
    app.update()
    entry = view.caption_entry._entry
    assert str(app.focus_get()) == str(entry) and entry.get() == app.caption.plain_caption
    entry.delete(0, "end")
    entry.insert(0, "my espresso on the kitchen table")
    entry.event_generate("<Return>")
    app.update()
    assert view.get_caption() == "my espresso on the kitchen table" and view.get_confidence() == "Edited by you"
    view.into_photo_button.invoke()  # the user's words: no question about an unsure caption
    run_until(app.update, lambda: "saved into" in view.status_label.cget("text"), 30, "the caption saved")
    assert read_caption(photo) == "my espresso on the kitchen table" and not app.errors


def test_hovering_a_word_of_the_caption_shows_where_the_model_looked(app):
    """Issue 25 (minor): only the chip's border answered the mouse (<Enter> was bound before its label existed)."""
    from tests.app.test_gui import SAMPLES

    view = app.pages[Page.CAPTION]
    app.caption.open_photo(SAMPLES / "astronaut.jpg")
    run_until(app.update, lambda: view.get_attention_words(), 60, "the caption's words")
    word = view.word_buttons[2]  # the caption's second word
    word._text_label.event_generate("<Enter>")
    app.update()
    assert view.chosen_word_index == 1


def test_the_window_class_is_the_one_the_desktop_entry_names(app):
    """Issue 26, item 8: WM_CLASS was "tk", "Tk", so docks did not group the window with its launcher."""
    from tests.conftest import REPO

    entry = (REPO / "packaging" / "linux" / "image-captioner.desktop").read_text().splitlines()
    assert f"StartupWMClass={app.winfo_class()}" in entry and app.winfo_class() == "Imagecaptioner"


def test_the_train_pages_first_showing_leaves_the_focus_where_the_user_had_it(app):
    """matplotlib's canvas takes the keyboard focus when it is made (the Train page's loss chart, made the first
    time the page is shown), so a keyboard user's next Tab or key went to the chart instead of on from where they were."""
    button = focus_part(app.page_buttons[Page.TRAIN])
    button.focus_force()
    app.update()
    app.show_page(Page.TRAIN)
    run_until(app.update, lambda: app.pages[Page.TRAIN].loss_plot.canvas is not None, 30, "the loss chart")
    app.update()
    assert str(app.focus_get()) == str(button)
