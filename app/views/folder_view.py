"""Folder page: caption every photo in a folder, edit captions, export them."""
from tkinter import ttk

import customtkinter as ctk

from ..constants import ExportFormat
from .widgets import PageFrame, heading, keyboard_table, name_for_speech, tab_order


class FolderView(PageFrame):
    """Draws the folder page; raises <<ChooseFolder>>, <<CaptionFolder>>, <<CancelFolder>>,
    <<CaptionEdited>>, <<ExportCaptions>> (format in `export_format`)."""

    def __init__(self, master, **kwargs):
        super().__init__(master, fg_color="transparent", **kwargs)
        self.grid_columnconfigure(0, weight=1)
        self.grid_rowconfigure(3, weight=1)
        self.export_format = None
        heading(self, "Caption a folder").grid(row=0, column=0, sticky="w", padx=20, pady=(16, 4))
        self._build_top_bar()
        progress = ctk.CTkFrame(self, fg_color="transparent")
        progress.grid(row=2, column=0, sticky="ew", padx=20, pady=8)
        progress.grid_columnconfigure(0, weight=1)
        self.progress_bar = ctk.CTkProgressBar(progress)
        self.progress_bar.set(0)
        self.progress_bar.grid(row=0, column=0, sticky="ew")
        self.progress_label = ctk.CTkLabel(progress, text="", width=260, anchor="e")
        self.progress_label.grid(row=0, column=1, padx=(10, 0))
        self._build_table()
        self._build_errors_and_export()
        tab_order(self.choose_button, self.start_button, self.cancel_button)
        tab_order(self.edit_entry)
        tab_order(*self.export_buttons)
        self.set_running(False, has_rows=False)

    # ============ top bar ============
    def _build_top_bar(self):
        bar = ctk.CTkFrame(self, fg_color="transparent")
        bar.grid(row=1, column=0, sticky="ew", padx=20)
        self.choose_button = ctk.CTkButton(bar, text="Choose folder…", command=lambda: self.emit("<<ChooseFolder>>"))
        self.choose_button.pack(side="left")
        self.folder_label = ctk.CTkLabel(bar, text="No folder chosen", anchor="w")
        self.folder_label.pack(side="left", padx=12)
        self.cancel_button = ctk.CTkButton(bar, text="Cancel", width=90, fg_color="gray40",
                                           command=lambda: self.emit("<<CancelFolder>>"))
        self.cancel_button.pack(side="right")
        self.start_button = ctk.CTkButton(bar, text="Caption all", width=110,
                                          command=lambda: self.emit("<<CaptionFolder>>"))
        self.start_button.pack(side="right", padx=8)

    # ============ table ============
    def _build_table(self):
        table = ctk.CTkFrame(self)
        table.grid(row=3, column=0, sticky="nsew", padx=20)
        table.grid_columnconfigure(0, weight=1)
        table.grid_rowconfigure(0, weight=1)
        self.tree = ttk.Treeview(table, columns=("photo", "caption", "sure"), show="headings", selectmode="browse")
        self.tree.heading("photo", text="Photo")
        self.tree.heading("caption", text="Caption (select a row to edit)")
        self.tree.heading("sure", text="Confidence")
        self.tree.column("photo", width=220, stretch=False)
        self.tree.column("sure", width=150, stretch=False)
        self.tree.grid(row=0, column=0, sticky="nsew", padx=(6, 0), pady=6)
        scroll = ttk.Scrollbar(table, orient="vertical", command=self.tree.yview)
        scroll.grid(row=0, column=1, sticky="ns", pady=6)
        self.tree.configure(yscrollcommand=scroll.set)
        self.tree.bind("<<TreeviewSelect>>", self._row_selected)
        name_for_speech(self.tree, "Captions")
        keyboard_table(self.tree)
        self._build_editor(table)

    def _build_editor(self, table):
        edit = ctk.CTkFrame(table, fg_color="transparent")
        edit.grid(row=1, column=0, columnspan=2, sticky="ew", padx=6, pady=(0, 6))
        edit.grid_columnconfigure(0, weight=1)
        self.edit_entry = name_for_speech(ctk.CTkEntry(edit, placeholder_text="Edit the selected caption, then press Enter"),
                                          "Edit the selected caption, then press Enter")
        self.edit_entry.grid(row=0, column=0, sticky="ew")
        self.edit_entry.bind("<Return>", lambda _: self.emit("<<CaptionEdited>>"))

    # ============ errors and export ============
    def _build_errors_and_export(self):
        bottom = ctk.CTkFrame(self, fg_color="transparent")
        bottom.grid(row=4, column=0, sticky="ew", padx=20, pady=10)
        bottom.grid_columnconfigure(0, weight=1)
        self.errors_box = name_for_speech(ctk.CTkTextbox(bottom, height=70, wrap="none"), "Messages")
        self.errors_box.grid(row=0, column=0, sticky="ew", padx=(0, 10))
        exports = ctk.CTkFrame(bottom, fg_color="transparent")
        exports.grid(row=0, column=1)
        self.export_buttons = []
        for row, export_format in enumerate(ExportFormat):
            button = ctk.CTkButton(exports, text=export_format.button_text, width=150,
                                   command=lambda f=export_format: self._export(f))
            button.grid(row=row, column=0, pady=2)
            self.export_buttons.append(button)

    def _export(self, export_format):
        self.export_format = export_format
        self.emit("<<ExportCaptions>>")

    def _row_selected(self, _event):
        selected = self.selected_photo()
        self.edit_entry.delete(0, "end")
        if selected:
            self.edit_entry.insert(0, self.tree.set(selected, "caption"))

    # ============ data API for the controller ============
    def set_folder(self, text):
        self.folder_label.configure(text=text)

    def set_running(self, running, has_rows):
        self.start_button.configure(state="disabled" if running else "normal")
        self.choose_button.configure(state="disabled" if running else "normal")
        self.cancel_button.configure(state="normal" if running else "disabled")
        for button in self.export_buttons:
            button.configure(state="normal" if (has_rows and not running) else "disabled")

    def show_progress(self, fraction, text=""):
        self.progress_bar.set(max(0.0, min(1.0, fraction)))
        self.progress_label.configure(text=text)

    def clear_rows(self):
        self.tree.delete(*self.tree.get_children())
        self.set_errors([])

    def add_row(self, photo_id, name, caption, sure=""):
        """sure: how sure the model is ('72 %', 'not sure (8 %)'), empty when unknown or edited."""
        self.tree.insert("", "end", iid=photo_id, values=(name, caption, sure))

    def update_row(self, photo_id, caption, sure=""):
        self.tree.set(photo_id, "caption", caption)
        self.tree.set(photo_id, "sure", sure)

    def selected_photo(self):
        selection = self.tree.selection()
        return selection[0] if selection else None

    def get_edited_caption(self) -> str:
        return self.edit_entry.get().strip()

    def set_errors(self, errors):
        self.errors_box.delete("1.0", "end")
        self.errors_box.insert("1.0", "\n".join(errors) if errors else "Photos that cannot be read are listed here.")
