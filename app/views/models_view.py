"""Models page: every model file the app knows, with its model card."""
from tkinter import ttk

import customtkinter as ctk

from .widgets import PageFrame, heading, keyboard_reachable, keyboard_table, name_for_speech, tab_order


class ModelsView(PageFrame):
    """Draws the models page; raises <<ImportModel>>, <<ExportModel>>, <<DeleteModel>>, <<UseModel>>."""

    def __init__(self, master, **kwargs):
        super().__init__(master, fg_color="transparent", **kwargs)
        self.grid_columnconfigure(0, weight=3)
        self.grid_columnconfigure(1, weight=1, minsize=220)
        self.grid_rowconfigure(1, weight=1)
        heading(self, "Models").grid(row=0, column=0, sticky="w", padx=20, pady=(16, 4))
        columns = ("name", "encoder", "bleu4", "created", "flags")
        self.tree = ttk.Treeview(self, columns=columns, show="headings", selectmode="browse")
        # Narrow enough together for the smallest window, stretching with it (wider columns were cut off).
        for column, title, width in zip(columns, ["Name", "Encoder", "BLEU-4", "Created", "State"],
                                        [150, 120, 60, 130, 100]):
            self.tree.heading(column, text=title)
            self.tree.column(column, width=width, minwidth=width, stretch=True)
        self.tree.grid(row=1, column=0, sticky="nsew", padx=(20, 10), pady=6)
        self.tree.bind("<<TreeviewSelect>>", lambda _: self.emit("<<ModelSelected>>"))
        keyboard_table(self.tree)
        name_for_speech(self.tree, "Models")
        self.card_box = name_for_speech(ctk.CTkTextbox(self, wrap="word"), "Model card")
        self.card_box.grid(row=1, column=1, sticky="nsew", padx=(10, 20), pady=6)
        buttons = ctk.CTkFrame(self, fg_color="transparent")
        buttons.grid(row=2, column=0, columnspan=2, sticky="w", padx=20, pady=(4, 16))
        self.buttons: dict[str, ctk.CTkButton] = {}
        for position, (text, event) in enumerate([("Import…", "<<ImportModel>>"), ("Export…", "<<ExportModel>>"),
                                                  ("Delete", "<<DeleteModel>>"), ("Use this model", "<<UseModel>>")]):
            button = ctk.CTkButton(buttons, text=text, width=110, command=lambda e=event: self.emit(e))
            button.grid(row=0, column=position, padx=(0, 8))
            self.buttons[event] = button
        keyboard_reachable(self.card_box)
        tab_order(*self.buttons.values())

    # ============ data API for the controller ============
    def set_models(self, rows):
        """rows: (id, name, encoder, bleu4, created, flags)."""
        selected = self.selected_model()
        self.tree.delete(*self.tree.get_children())
        for row in rows:
            self.tree.insert("", "end", iid=row[0], values=row[1:])
        if selected in self.tree.get_children():
            self.tree.selection_set(selected)

    def selected_model(self):
        selection = self.tree.selection()
        return selection[0] if selection else None

    def select(self, model_id):
        self.tree.selection_set(model_id)

    def show_card(self, facts, deletable):
        """The card as labelled lines, read-only."""
        self.card_box.configure(state="normal")
        self.card_box.delete("1.0", "end")
        self.card_box.insert("1.0", "\n\n".join(f"{label}\n{text}" for label, text in facts))
        self.card_box.configure(state="disabled")
        self.buttons["<<DeleteModel>>"].configure(state="normal" if deletable else "disabled")
        for event in ("<<ExportModel>>", "<<UseModel>>"):  # they act on the selected model: none, nothing to do
            self.buttons[event].configure(state="normal" if facts else "disabled")
