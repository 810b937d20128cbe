"""The application: builds the window, the models and the views, and wires them with the controllers."""
import logging
import logging.handlers
import os
import sys
import tkinter as tk
from pathlib import Path

import customtkinter as ctk

from .constants import MIN_WINDOW, POLL_MS, SHORTCUTS, Page, Theme
from .controllers.announcer import Announcer
from .controllers.caption import CaptionController
from .controllers.folder import FolderController
from .controllers.models import ModelsController
from .controllers.speech import SpeechService
from .controllers.tasks import TaskRunner
from .controllers.train import TrainController
from .dialogs import Dialogs
from .models import CaptionHistory, ModelRegistry, SettingsModel
from .models.folder_captions import FolderCaptions
from .models.metadata_undo import MetadataUndo
from .models.model_session import ModelSession
from .paths import asset_path, default_model_path, user_config_dir, user_data_dir, user_log_dir, user_models_dir
from .views.caption_view import CaptionView
from .views.folder_view import FolderView
from .views.models_view import ModelsView
from .views.train_view import TrainView
from .views.widgets import (
    MessageDialog,
    name_for_speech,
    spoken_description,
    tab_leaves_text_boxes,
    tab_order,
    theme_tables,
)

log = logging.getLogger("app")
# WM_CLASS, named by packaging/linux/image-captioner.desktop (it was "Tk": docks did not group the window
# with its launcher); Tk keeps only the first letter a capital.
WINDOW_CLASS = "Imagecaptioner"

try:  # drag-and-drop is a comfort: without tkinterdnd2 (or its Tk extension) the app works as before
    from tkinterdnd2 import DND_FILES, TkinterDnD

    DND_MIXINS: tuple = (TkinterDnD.DnDWrapper,)
except ImportError:
    DND_FILES, TkinterDnD, DND_MIXINS = None, None, ()


def setup_logging():
    """Details of every error go to a log file in the user log folder; dialogs show one line. Where that
    folder cannot be written the app runs without a log file (returns None)."""
    folder = user_log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(folder / "app.log", maxBytes=1_000_000, backupCount=2)
    except OSError:
        logging.basicConfig(level=logging.WARNING, handlers=[logging.NullHandler()])
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    return folder / "app.log"


def enable_drag_and_drop(window) -> bool:
    """Load the tkdnd extension into this Tk; False where it is not available."""
    if TkinterDnD is None:
        return False
    try:
        window.TkdndVersion = TkinterDnD._require(window)
        return True
    except (RuntimeError, tk.TclError) as error:
        log.info("drag-and-drop unavailable: %s", error)
        return False


class App(ctk.CTk, *DND_MIXINS):  # type: ignore[misc]  # a base only where tkinterdnd2 exists
    """Main window: a navigation column on the left, one page at a time on the right."""

    def __init__(self, photos=()):
        super().__init__(className=WINDOW_CLASS)  # WM_CLASS, as the desktop entry's StartupWMClass says
        self.photos_to_open = [Path(p).absolute() for p in photos]  # command line (relative to its folder) or "Open with"
        self.log_file = setup_logging()
        self.title("Image Captioner")
        self._set_icon()
        self.minsize(*MIN_WINDOW)
        self.errors = []  # every error shown to the user, newest last
        self.notices_shown = []  # every notice shown (not errors), newest last
        self.shortcuts_window = None
        self.settings_model = SettingsModel(user_config_dir() / "settings.json")
        settings = self.settings_model.load()
        self.settings_model.save()  # finds out now whether settings can be kept
        self.notices = [n for n in (self.settings_model.notice,
                                    "" if self.log_file else "no log file: the log folder is not writable") if n]
        ctk.set_appearance_mode(settings.theme)
        self.geometry(settings.geometry)
        self.runner, self.dialogs = TaskRunner(), Dialogs(self)
        self.speech = SpeechService(settings.speech_rate)
        self.announcer = Announcer(self.speech, settings.speak_mode)
        self.registry = ModelRegistry(default_model_path(), user_models_dir())
        self.history = CaptionHistory(path=user_data_dir() / "history.json")
        self.history.load()
        self.folder_captions = FolderCaptions(user_data_dir() / "folder-captions")
        self.model_session = ModelSession()  # the Caption page loads it, the Folder page captions with it
        self.metadata_undo = MetadataUndo(user_data_dir() / "metadata-undo")

        self.grid_columnconfigure(1, weight=1)
        self.grid_rowconfigure(0, weight=1)
        self._build_navigation(settings.theme)
        self.pages = {Page.CAPTION: CaptionView(self), Page.TRAIN: TrainView(self),
                      Page.FOLDER: FolderView(self), Page.MODELS: ModelsView(self)}
        theme_tables(self)
        tab_leaves_text_boxes(self)

        self.drag_and_drop = enable_drag_and_drop(self)
        if self.drag_and_drop:
            self.pages[Page.CAPTION].accept_drops(DND_FILES)
        self.caption = CaptionController(self, self.pages[Page.CAPTION], self.runner, self.speech,
                                         self.settings_model, self.registry, self.history, self.model_session,
                                         self.metadata_undo)
        self.models_controller = ModelsController(self, self.pages[Page.MODELS], self.runner, self.registry,
                                                  self.models_changed, lambda: self.settings_model.settings.beam_width)
        self.train = TrainController(self, self.pages[Page.TRAIN], self.runner, self.registry,
                                     lambda entry: self.models_changed(select=entry))
        self.folder = FolderController(self, self.pages[Page.FOLDER], self.runner, self.folder_captions,
                                       self.model_session, self.settings_model, self.metadata_undo)
        self._bind_shortcuts()
        self.bind_all("<FocusIn>", self._focus_moved, add="+")
        self._last_focus = ""
        self.protocol("WM_DELETE_WINDOW", self.close)
        self.show_page(Page.CAPTION)
        self.after(POLL_MS, self._poll)
        self.after(10, self._start_background_work)

    def _set_icon(self):
        """The app's icon on the window and in the task bar (Windows takes .ico; CustomTkinter sets its own
        there 200 ms after start, so ours follows it)."""
        self.icon_image = tk.PhotoImage(master=self, file=str(asset_path("icons", "app.png")))
        self.iconphoto(True, self.icon_image)
        if sys.platform == "win32":
            self.after(250, lambda: self.iconbitmap(str(asset_path("icons", "app.ico"))))

    # ============ navigation ============
    def _build_navigation(self, theme):
        navigation = ctk.CTkFrame(self, corner_radius=0)
        navigation.grid(row=0, column=0, sticky="nsw")
        navigation.grid_rowconfigure(len(Page) + 1, weight=1)
        ctk.CTkLabel(navigation, text="Image\nCaptioner", font=ctk.CTkFont(size=20, weight="bold")).grid(
            row=0, column=0, padx=20, pady=(20, 16))
        self.page_buttons = {}
        for row, page in enumerate(Page, start=1):
            button = ctk.CTkButton(navigation, text=f"   {page.value}", corner_radius=0, height=40, anchor="w",
                                   fg_color="transparent", text_color=("gray10", "gray90"),
                                   hover_color=("gray70", "gray30"), command=lambda p=page: self.show_page(p))
            button.grid(row=row, column=0, sticky="ew")
            self.page_buttons[page] = name_for_speech(button, f"{page.value} page")
        shortcuts = ctk.CTkButton(navigation, text="Shortcuts (F1)", fg_color="transparent", border_width=1,
                                  text_color=("gray10", "gray90"), command=self.show_shortcuts)
        shortcuts.grid(row=len(Page) + 2, column=0, padx=20, pady=8)
        ctk.CTkLabel(navigation, text="Theme").grid(row=len(Page) + 3, column=0, padx=20, sticky="w")
        self.theme_menu = ctk.CTkOptionMenu(navigation, values=[t.value for t in Theme], command=self.change_theme)
        self.theme_menu.set(theme)
        name_for_speech(self.theme_menu, "Theme")
        self.theme_menu.grid(row=len(Page) + 4, column=0, padx=20, pady=(0, 20))
        tab_order(*self.page_buttons.values(), shortcuts, self.theme_menu)

    def show_page(self, page):
        for name, frame in self.pages.items():
            if name == page:
                frame.grid(row=0, column=1, sticky="nsew")
            else:
                frame.grid_forget()
            self.page_buttons[name].configure(fg_color=("gray75", "gray25") if name == page else "transparent")
        if page == Page.MODELS:
            self.models_controller.refresh()
        if getattr(self, "current_page", page) != page:
            self.announce(f"{Page(page).value} page")
            log.info("page shown: %s", Page(page).value)
        self.current_page = page

    # ============ Speak mode ============
    def announce(self, message):
        self.announcer.say(message)

    def _focus_moved(self, event):
        """Speak mode says each control as the focus reaches it (once, not again for focus that returns
        to the same control from a dialog or another window)."""
        if not isinstance(event.widget, tk.Misc) or isinstance(event.widget, tk.Tk):
            return
        if self.focus_get() is not event.widget or str(event.widget) == self._last_focus:
            return  # the window itself, or the same control again (focus back from a dialog)
        self._last_focus = str(event.widget)
        self.announcer.say(spoken_description(event.widget))

    def toggle_speak_mode(self):
        on = not self.announcer.enabled
        self.settings_model.update(speak_mode=on)
        self.announcer.enabled = True
        self.announcer.say("Speak mode on. Tab moves between controls; F3 reads the caption page."
                           if on else "Speak mode off")
        self.announcer.enabled = on

    def read_caption_page(self):
        """F3: the whole Caption page in one announcement, said even outside Speak mode (asked for)."""
        self.announcer.say(self.caption.page_reading(), always=True)

    def offer_speak_mode(self):
        """On first launch, said aloud (once speech is known to work) and shown: how to turn Speak mode on."""
        if self.settings_model.first_launch and not self.announcer.enabled:
            self.announcer.say("Welcome to Image Captioner. Press F2 for Speak mode, which says each control aloud. "
                               "Press F1 for the keyboard shortcuts.", always=True)

    def change_theme(self, theme):
        ctk.set_appearance_mode(theme)
        self.settings_model.update(theme=theme)
        self.restyle()

    def restyle(self):
        """The parts CustomTkinter does not theme follow the light or dark mode: tables and the loss plot."""
        theme_tables(self)
        self.pages[Page.TRAIN].loss_plot.restyle()

    def _bind_shortcuts(self):
        caption = self.caption
        self.bind("<Control-o>", lambda _: caption.ask_photo())
        self.bind("<Control-Return>", lambda _: caption.caption())
        self.bind("<Control-S>", lambda _: caption.speak())
        self.bind("<Escape>", lambda _: caption.stop_speech())
        self.bind("<F1>", lambda _: self.show_shortcuts())
        self.bind("<F2>", lambda _: self.toggle_speak_mode())
        self.bind("<F3>", lambda _: self.read_caption_page())
        self.bind("<Control-c>", self._copy_shortcut)
        self.bind("<Control-v>", self._paste_shortcut)
        self.bind("<Control-z>", self._undo_shortcut)
        for index, page in enumerate(Page, start=1):
            self.bind(f"<Control-Key-{index}>", lambda _, p=page: self.show_page(p))

    def _paste_shortcut(self, event):
        if not isinstance(event.widget, (tk.Entry, tk.Text)):  # text fields keep their own paste
            self.caption.paste()

    def _undo_shortcut(self, event):
        if not isinstance(event.widget, (tk.Entry, tk.Text)):  # text fields keep their own undo
            self.undo_last_save()

    def undo_last_save(self):
        """Ctrl+Z: the files of the last Save into photo(s) put back as they were (on a worker)."""
        if not self.metadata_undo.available():
            self.pages[Page.CAPTION].set_status("Nothing to undo")
            self.announce("Nothing to undo")
            return

        def undone(count):
            message = f"Undone: {count} file{'s' * (count != 1)} put back as before the last save into photos"
            self.pages[Page.CAPTION].set_status(message)
            self.pages[Page.FOLDER].set_folder(message)
            self.announce(message)

        self.runner.submit("files", lambda report, cancel: self.metadata_undo.restore(), on_done=undone,
                           on_error=lambda error: self.show_error(f"Cannot undo: {error}"))

    def _copy_shortcut(self, event):
        if not isinstance(event.widget, (tk.Entry, tk.Text)):  # text fields keep their own copy
            self.caption.copy_caption()

    def show_shortcuts(self):
        """One shortcuts window: F1 again brings it to the front (each press opened another)."""
        if self.shortcuts_window is not None and self.shortcuts_window.winfo_exists():
            self.shortcuts_window.take_focus()
            return
        self.shortcuts_window = MessageDialog(self, "Keyboard shortcuts",
                                              "\n".join(f"{keys:18s} {what}" for keys, what in SHORTCUTS))

    # ============ background work ============
    def _start_background_work(self):
        self.caption.start()
        if self.settings_model.first_launch:
            self.caption.notices.append("F2: Speak mode (every control said aloud)")
            self._offer_when_speech_is_known()
        if not self.train.disable_without_tensorflow():
            self.train.list_unfinished_runs()
        if self.photos_to_open:
            self.caption.open_photo(self.photos_to_open[0])  # described as soon as the model is ready

    def _offer_when_speech_is_known(self):
        if self.speech.available is None:
            self.after(200, self._offer_when_speech_is_known)
        else:
            self.offer_speak_mode()

    def _poll(self):
        try:
            self.runner.poll()
        finally:
            self.after(POLL_MS, self._poll)

    def models_changed(self, select=None):
        """After an import, a delete, a trained model adopted or another made active: every page follows
        the one active model."""
        if select is not None:
            self.registry.set_active(select.path)
        self.caption.follow_active_model()
        if self.current_page == Page.MODELS:
            self.models_controller.refresh()

    # ============ errors and closing ============
    def show_error(self, message):
        """One line for the user; the details are already in the log file."""
        message = str(message).strip().splitlines()[0] if str(message).strip() else "Unknown error"
        log.error(message)
        self.errors.append(message)
        self.announce(f"Error: {message}")
        MessageDialog(self, "Image Captioner", message)

    def notify(self, message):
        """Something the user must know that is not an error (the model in use changed under them)."""
        log.info(message)
        self.notices_shown.append(message)
        self.announce(message)
        MessageDialog(self, "Image Captioner", message)

    def report_callback_exception(self, exc_type, exc_value, traceback):
        log.error("unexpected error", exc_info=(exc_type, exc_value, traceback))
        where = f"details in {self.log_file}" if self.log_file else "no log file: the log folder is not writable"
        self.show_error(f"Unexpected error: {exc_value} ({where})")

    def close(self):
        self.settings_model.update(geometry=self.geometry())
        self.speech.stop()
        if self.train.cancel_event is not None:
            self.train.cancel_event.set()
        self.destroy()


def main(argv=None):
    """python -m app [PHOTO]: the photo (also the packaged app's 'Open with') is described at once."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    photos = [arg for arg in (sys.argv[1:] if argv is None else argv) if not arg.startswith("-")]
    try:
        app = App(photos)
    except tk.TclError as error:  # no display: one line, not Tk's traceback
        print(f"Image Captioner needs a display to open its window ({error}); "
              "for captions without one, use: python -m ml caption PHOTO", file=sys.stderr)
        sys.exit(2)
    app.mainloop()
