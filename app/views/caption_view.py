"""Caption page: a photo, its caption in large type, and one-click Caption / Speak."""
import textwrap
import tkinter as tk

import customtkinter as ctk

from ..constants import PREVIEW_SIZE
from .widgets import PageFrame, heading, keyboard_reachable, name_for_speech, tab_order, wrap_to

BEAM_CHOICES = ["1 (greedy)", "3", "5"]


class CaptionView(PageFrame):
    """Draws the caption page and raises <<OpenPhoto>>, <<CaptionRequested>>, <<SpeakRequested>>,
    <<StopSpeech>>, <<CopyCaption>>, <<SaveSpeech>>, <<SaveIntoPhoto>>, <<ModelChosen>>, <<SettingsChanged>>, <<HistoryChosen>>.
    Choosing a word of the caption (click, hover, or Tab and Space) shows where the model looked for it."""

    def __init__(self, master, **kwargs):
        super().__init__(master, fg_color="transparent", **kwargs)
        self.grid_columnconfigure(0, weight=3)
        self.grid_columnconfigure(1, weight=1)
        self.grid_rowconfigure(2, weight=1)
        self.chosen_history_index = None
        self.dropped_path = None
        self._source_image = None  # the open photo, scaled once; fitted to the preview on each resize
        self._fit_pending = None
        self._heatmaps = []  # one PIL image per word of the caption: the photo with where the model looked
        self.chosen_word_index = None
        heading(self, "Caption a photo").grid(row=0, column=0, sticky="w", padx=20, pady=(16, 4))
        self._build_top_bar()
        self._build_photo_and_caption()
        self._build_side()
        tab_order(self.open_button, self.model_menu, self.beam_menu, self.auto_speak_switch)
        tab_order(self.caption_button, self.speak_button, self.stop_button, self.edit_button, self.copy_button,
                  self.save_button, self.into_photo_button)
        tk.Misc.lift(self.words_frame)  # Tab reaches the words after the buttons
        self.set_photo_loaded(False)

    # ============ top bar ============
    def _build_top_bar(self):
        bar = ctk.CTkFrame(self, fg_color="transparent")
        bar.grid(row=1, column=0, columnspan=2, sticky="ew", padx=20)
        self.open_button = ctk.CTkButton(bar, text="Open photo…", width=120, command=lambda: self.emit("<<OpenPhoto>>"))
        self.open_button.pack(side="left")
        self.file_label = ctk.CTkLabel(bar, text="No photo open", anchor="w")
        self.file_label.pack(side="left", padx=12)
        self.auto_speak_switch = ctk.CTkSwitch(bar, text="Auto-speak", command=lambda: self.emit("<<SettingsChanged>>"))
        self.auto_speak_switch.pack(side="right", padx=(12, 0))
        self.beam_menu = ctk.CTkOptionMenu(bar, values=BEAM_CHOICES, width=110,
                                           command=lambda _: self.emit("<<SettingsChanged>>"))
        self.beam_menu.pack(side="right")
        name_for_speech(self.beam_menu, "Beam")
        ctk.CTkLabel(bar, text="Beam").pack(side="right", padx=6)
        self.model_menu = ctk.CTkOptionMenu(bar, values=["(loading)"], width=200,
                                            command=lambda _: self.emit("<<ModelChosen>>"))
        self.model_menu.pack(side="right", padx=(0, 12))
        name_for_speech(self.model_menu, "Model")
        ctk.CTkLabel(bar, text="Model").pack(side="right", padx=6)

    # ============ photo and caption ============
    def _build_photo_and_caption(self):
        main = ctk.CTkFrame(self)
        main.grid(row=2, column=0, sticky="nsew", padx=(20, 10), pady=12)
        main.grid_columnconfigure(0, weight=1)
        main.grid_rowconfigure(0, weight=1)
        # The box takes the room the grid gives it (not the photo's size), so the preview can grow and shrink.
        self.preview_box = ctk.CTkFrame(main, fg_color="transparent", width=PREVIEW_SIZE[0], height=PREVIEW_SIZE[1])
        self.preview_box.grid(row=0, column=0, sticky="nsew", padx=10, pady=10)
        self.preview_box.grid_propagate(False)
        self.preview_box.bind("<Configure>", self._preview_resized, add="+")
        self.preview_label = ctk.CTkLabel(self.preview_box, text="Open a photo (Ctrl+O)")
        self.preview_label.place(relx=0.5, rely=0.5, anchor="center")
        self.caption_label = ctk.CTkLabel(main, text="", font=ctk.CTkFont(size=26, weight="bold"),
                                          wraplength=PREVIEW_SIZE[0] + 60, justify="center")
        self.caption_label.grid(row=1, column=0, sticky="ew", padx=10, pady=(4, 0))
        # The caption in the user's own words: shown in place of the caption while editing (Edit, Enter).
        self.caption_entry = name_for_speech(ctk.CTkEntry(main, font=ctk.CTkFont(size=20)),
                                             "Caption, edit and press Enter")
        self.caption_entry.bind("<Return>", lambda _: self.emit("<<CaptionEditDone>>"))
        self.caption_entry.bind("<Escape>", lambda _: (self.stop_editing(), "break")[1])
        self.confidence_label = ctk.CTkLabel(main, text="", text_color=("gray30", "gray70"))  # how sure, and why
        self.confidence_label.grid(row=2, column=0, sticky="ew", padx=10)
        self.tags_label = ctk.CTkLabel(main, text="", text_color=("gray30", "gray70"))  # what the encoder sees
        self.tags_label.grid(row=3, column=0, sticky="ew", padx=10, pady=(0, 4))
        for label in (self.caption_label, self.confidence_label, self.tags_label):
            wrap_to(main, label, margin=40)
        self.words_frame = ctk.CTkFrame(main, fg_color="transparent")  # where the model looked, word by word
        self.words_frame.grid(row=4, column=0, pady=(0, 8))
        self.words_frame.grid_remove()  # shown once there are words (an empty frame would take 200 px)
        self.word_buttons = []  # the shown ones, "photo" first
        self._word_button_pool = []
        ctk.CTkLabel(self.words_frame, text="Where it looked:").grid(row=0, column=0, padx=(0, 4))
        self._build_buttons(main)
        self.status_label = ctk.CTkLabel(main, text="", text_color="gray50")
        self.status_label.grid(row=6, column=0, pady=(0, 8))
        wrap_to(main, self.status_label, margin=40)  # a long reason wraps, never clipped at both ends

    def _build_buttons(self, main):
        buttons = ctk.CTkFrame(main, fg_color="transparent")
        buttons.grid(row=5, column=0, pady=(0, 12))
        self.caption_button = ctk.CTkButton(buttons, text="Caption", width=140, height=40,
                                            font=ctk.CTkFont(size=16, weight="bold"),
                                            command=lambda: self.emit("<<CaptionRequested>>"))
        self.speak_button = ctk.CTkButton(buttons, text="Speak", width=120, height=40,
                                          command=lambda: self.emit("<<SpeakRequested>>"))
        self.stop_button = ctk.CTkButton(buttons, text="Stop", width=80, height=40, fg_color="gray40",
                                         command=lambda: self.emit("<<StopSpeech>>"))
        self.edit_button = ctk.CTkButton(buttons, text="Edit", width=70, height=40, fg_color="gray40",
                                         command=lambda: self.emit("<<EditCaption>>"))
        self.copy_button = ctk.CTkButton(buttons, text="Copy", width=80, height=40, fg_color="gray40",
                                         command=lambda: self.emit("<<CopyCaption>>"))
        self.save_button = ctk.CTkButton(buttons, text="Save speech…", width=120, height=40, fg_color="gray40",
                                         command=lambda: self.emit("<<SaveSpeech>>"))
        self.into_photo_button = ctk.CTkButton(buttons, text="Save into photo", width=130, height=40, fg_color="gray40",
                                               command=lambda: self.emit("<<SaveIntoPhoto>>"))
        self._action_buttons = [self.caption_button, self.speak_button, self.stop_button, self.edit_button,
                                self.copy_button, self.save_button, self.into_photo_button]
        self._buttons_per_row = 0
        self._arrange_buttons(len(self._action_buttons))
        main.bind("<Configure>", lambda event: self._arrange_buttons(self._buttons_fitting(event.width)), add="+")

    def _buttons_fitting(self, width):
        """All six buttons on one row where they fit, else two rows of three (they were cut off at the right
        in a small window)."""
        needed = sum(button.winfo_reqwidth() + 10 for button in self._action_buttons) + 20
        return len(self._action_buttons) if width >= needed else 4

    def _arrange_buttons(self, per_row):
        if per_row == self._buttons_per_row:
            return
        self._buttons_per_row = per_row
        for index, button in enumerate(self._action_buttons):
            button.grid(row=index // per_row, column=index % per_row, padx=5,
                        pady=(0, 6) if per_row < len(self._action_buttons) else 0)

    # ============ side: model card and history ============
    def _build_side(self):
        side = ctk.CTkFrame(self)
        side.grid(row=2, column=1, sticky="nsew", padx=(10, 20), pady=12)
        side.grid_rowconfigure(3, weight=1)
        side.grid_columnconfigure(0, weight=1)
        ctk.CTkLabel(side, text="Model", font=ctk.CTkFont(weight="bold")).grid(row=0, column=0, sticky="w", padx=10, pady=(10, 0))
        self.model_info_label = ctk.CTkLabel(side, text="", justify="left", anchor="w", wraplength=260)
        self.model_info_label.grid(row=1, column=0, sticky="ew", padx=10)
        wrap_to(side, self.model_info_label, margin=30)
        ctk.CTkLabel(side, text="History", font=ctk.CTkFont(weight="bold")).grid(row=2, column=0, sticky="w", padx=10, pady=(12, 0))
        self.history_frame = ctk.CTkScrollableFrame(side, fg_color="transparent")
        self.history_frame.grid(row=3, column=0, sticky="nsew", padx=4, pady=(0, 4))
        self.clear_history_button = ctk.CTkButton(side, text="Clear history", width=110, fg_color="gray40",
                                                  command=lambda: self.emit("<<ClearHistory>>"))
        self.clear_history_button.grid(row=4, column=0, sticky="e", padx=10, pady=(0, 10))
        keyboard_reachable(self.clear_history_button, self.clear_history_button.invoke)
        self.history_buttons = []  # the shown ones, newest first
        self._history_pool = []

    def accept_drops(self, file_type):
        """Let photos be dropped on the preview (tkdnd is loaded by the application)."""
        for widget in (self.preview_label, self.preview_label._label):
            widget.drop_target_register(file_type)
            widget.dnd_bind("<<Drop>>", self.photo_dropped)
        self.preview_label.configure(text="Open a photo (Ctrl+O) or drop one here")

    def photo_dropped(self, event):
        """Keep the first dropped file and tell the controller (<<PhotoDropped>>)."""
        paths = self.tk.splitlist(event.data)
        if paths:
            self.dropped_path = paths[0]
            self.emit("<<PhotoDropped>>")
        return event.action if hasattr(event, "action") else None

    # ============ data API for the controller ============
    def get_beam_width(self) -> int:
        return int(self.beam_menu.get().split()[0])

    def set_beam_width(self, width):
        self.beam_menu.set(next((c for c in BEAM_CHOICES if c.split()[0] == str(width)), "3"))

    def get_auto_speak(self) -> bool:
        return bool(self.auto_speak_switch.get())

    def set_auto_speak(self, on):
        (self.auto_speak_switch.select if on else self.auto_speak_switch.deselect)()

    def get_model_name(self) -> str:
        return self.model_menu.get()

    def set_models(self, names, current):
        self.model_menu.configure(values=names or ["(none)"])
        self.model_menu.set(current if current in names else (names[0] if names else "(none)"))

    def set_model_info(self, text):
        self.model_info_label.configure(text=text)

    def show_photo(self, image, name):
        """Show a PIL image, fitted to the preview (which grows with the window), and its file name."""
        self._source_image = image
        self._fit_photo()
        self.file_label.configure(text=name)
        self.set_caption("")
        self.set_attention([], [])
        self.set_photo_loaded(True)

    def _preview_resized(self, _event):
        if self._fit_pending is not None:
            self.after_cancel(self._fit_pending)
        self._fit_pending = self.after(80, self._fit_photo)  # once the resize settles

    def _fit_photo(self):
        self._fit_pending = None
        if self._source_image is None:
            return
        shown = self._source_image
        if self.chosen_word_index is not None and self.chosen_word_index < len(self._heatmaps):
            shown = self._heatmaps[self.chosen_word_index]
        room = (max(40, self.preview_box.winfo_width() - 10), max(40, self.preview_box.winfo_height() - 10))
        scale = min(room[0] / self._source_image.width, room[1] / self._source_image.height)
        size = (max(1, round(self._source_image.width * scale)), max(1, round(self._source_image.height * scale)))
        self._photo = ctk.CTkImage(light_image=shown, dark_image=shown, size=size)
        self.preview_label.configure(image=self._photo, text="")

    def set_photo_loaded(self, loaded):
        self.caption_button.configure(state="normal" if loaded else "disabled")

    def set_caption(self, text):
        self.caption_label.configure(text=text)

    def get_caption(self) -> str:
        return self.caption_label.cget("text")

    def start_editing(self, text):
        """The caption as an editable line in its place, with the focus (Enter keeps it, Escape does not)."""
        self.caption_entry.delete(0, "end")
        self.caption_entry.insert(0, text)
        self.caption_label.grid_remove()
        self.caption_entry.grid(row=1, column=0, sticky="ew", padx=10, pady=(4, 0))
        self.caption_entry.focus_set()

    def get_edited_caption(self) -> str:
        return self.caption_entry.get()

    def stop_editing(self):
        self.caption_entry.grid_remove()
        self.caption_label.grid()
        self.edit_button.focus_set()

    def set_confidence(self, text):
        self.confidence_label.configure(text=text)

    def get_confidence(self) -> str:
        return self.confidence_label.cget("text")

    def set_attention(self, words, heatmaps):
        """One button per word of the caption; choosing one (click, hover, or Tab and Space) shows its heatmap
        over the photo, 'photo' shows the photo alone. No words: nothing (a model without attention).
        The buttons are kept and relabelled, not made anew for each caption: destroyed Tk widgets leave
        fonts in reference cycles, and a worker thread that collects them calls Tk and hangs."""
        self._heatmaps, self.chosen_word_index = list(heatmaps), None
        for button in self._word_button_pool:
            button.grid_remove()
        self.word_buttons = []
        if not words:
            self.words_frame.grid_remove()
            return
        self.words_frame.grid()
        for column, word in enumerate(["photo", *words], start=1):
            if len(self._word_button_pool) < column:
                self._word_button_pool.append(self._word_button(column))
            button = self._word_button_pool[column - 1]
            button.configure(text=word)
            button.grid(row=0, column=column, padx=2)
            self.word_buttons.append(button)
        self.choose_word(None)

    def _word_button(self, column):
        index = column - 2 if column > 1 else None
        # Made with a text, so its label exists when <Enter> is bound: bound before, hovering the word did
        # nothing (only its border answered).
        button = ctk.CTkButton(self.words_frame, text=" ", width=20, height=26, border_width=1, fg_color="transparent",
                               text_color=("gray10", "gray90"), command=lambda: self.choose_word(index))
        button.bind("<Enter>", lambda _event: self.choose_word(index), add="+")
        keyboard_reachable(button, button.invoke)
        return button

    def choose_word(self, index):
        """Show where the model looked for word `index` of the caption (None: the photo alone)."""
        self.chosen_word_index = index
        chosen = 0 if index is None else index + 1
        for position, button in enumerate(self.word_buttons):
            button.configure(fg_color="gray35" if position == chosen else "transparent",
                             text_color="white" if position == chosen else ("gray10", "gray90"))
        self._fit_photo()

    def get_attention_words(self) -> list:
        return [button.cget("text") for button in self.word_buttons[1:]]

    def set_tags(self, text):
        self.tags_label.configure(text=text)

    def get_tags(self) -> str:
        return self.tags_label.cget("text")

    def set_status(self, text):
        self.status_label.configure(text=text)

    def set_speech_controls(self, available, has_caption, speaking):
        """Only what can act is enabled: Speak and Save speech need a caption and a speech engine, Stop
        needs speech going on, Copy needs a caption."""
        def state(on):
            return "normal" if on else "disabled"

        self.speak_button.configure(state=state(available and has_caption and not speaking),
                                    text="Speaking…" if speaking else "Speak")
        self.stop_button.configure(state=state(speaking))
        self.save_button.configure(state=state(available and has_caption))
        self.copy_button.configure(state=state(has_caption))
        self.edit_button.configure(state=state(has_caption))
        self.into_photo_button.configure(state=state(has_caption))
        self.auto_speak_switch.configure(state=state(available))

    def set_history(self, entries):
        """One button per entry, kept and relabelled (like the word buttons, so no destroyed widget's font is
        left for a worker thread's garbage collection to free through Tk)."""
        for button in self._history_pool[len(entries):]:
            button.grid_remove()
        for index, entry in enumerate(entries):
            if index == len(self._history_pool):
                button = ctk.CTkButton(self.history_frame, text="", anchor="w", fg_color="transparent",
                                       text_color=("gray10", "gray90"), hover_color=("gray80", "gray30"),
                                       command=lambda i=index: self._choose_history(i))
                keyboard_reachable(button, button.invoke)
                self._history_pool.append(button)
            self._history_pool[index].configure(text="\n".join([entry.path.name] + textwrap.wrap(entry.caption, 36)))
            self._history_pool[index].grid(row=index, column=0, sticky="ew", pady=1)
        self.history_buttons = self._history_pool[:len(entries)]

    def _choose_history(self, index):
        self.chosen_history_index = index
        self.emit("<<HistoryChosen>>")
