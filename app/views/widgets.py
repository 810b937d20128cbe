"""Small drawing pieces shared by the pages."""
import tkinter as tk

import customtkinter as ctk


class PageFrame(ctk.CTkFrame):
    """A page that raises <<VirtualEvents>>; the controller subscribes with on().

    CTkFrame.bind() binds to its inner canvas, so events raised on the frame itself are
    subscribed through Tk's own bind here.
    """

    def emit(self, event):
        self.event_generate(event)

    def on(self, event, handler):
        tk.Misc.bind(self, event, lambda _event: handler(), add="+")


def heading(master, text):
    return ctk.CTkLabel(master, text=text, font=ctk.CTkFont(size=20, weight="bold"), anchor="w")


class LossPlot(ctk.CTkFrame):
    """Train and dev loss per epoch as two lines on a canvas."""

    COLORS = {"loss": "#3a7ebf", "val_loss": "#e07b39"}

    def __init__(self, master, **kwargs):
        super().__init__(master, **kwargs)
        self.canvas = tk.Canvas(self, height=180, highlightthickness=0, background="#f4f4f4")
        self.canvas.pack(fill="both", expand=True, padx=4, pady=4)
        self.epochs: list[dict] = []
        self.canvas.bind("<Configure>", lambda _: self.plot(self.epochs))

    def plot(self, epochs):
        self.epochs = list(epochs)
        canvas, width, height = self.canvas, self.canvas.winfo_width(), self.canvas.winfo_height()
        canvas.delete("all")
        canvas.create_text(8, 8, anchor="nw", text="loss per epoch:  train (blue)  dev (orange)", fill="#333")
        values = [e[k] for e in self.epochs for k in self.COLORS if k in e]
        if len(self.epochs) < 1 or width < 50:
            return
        low, high = min(values), max(values)
        span = (high - low) or 1.0
        left, top, bottom = 40, 28, height - 20
        step = (width - left - 10) / max(len(self.epochs) - 1, 1)
        canvas.create_text(4, top, anchor="nw", text=f"{high:.2f}", fill="#555")
        canvas.create_text(4, bottom, anchor="sw", text=f"{low:.2f}", fill="#555")
        for key, color in self.COLORS.items():
            points = [(left + i * step, bottom - (e[key] - low) / span * (bottom - top))
                      for i, e in enumerate(self.epochs) if key in e]
            if len(points) > 1:
                canvas.create_line(*[c for p in points for c in p], fill=color, width=2)
            for x, y in points:
                canvas.create_oval(x - 3, y - 3, x + 3, y + 3, fill=color, outline=color)


class MessageDialog(ctk.CTkToplevel):
    """A small non-blocking dialog with one message and an OK button."""

    def __init__(self, master, title, message):
        super().__init__(master)
        self.title(title)
        self.resizable(False, False)
        self.message = message
        ctk.CTkLabel(self, text=message, wraplength=460, justify="left").grid(row=0, column=0, padx=20, pady=(20, 10))
        ctk.CTkButton(self, text="OK", width=90, command=self.destroy).grid(row=1, column=0, pady=(0, 16))
        self.bind("<Return>", lambda _: self.destroy())
        self.bind("<Escape>", lambda _: self.destroy())
        self.after(50, self.lift)
