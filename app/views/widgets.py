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


# The focus ring (light theme, dark theme): a near-black or near-white 3-pixel border where a control has a
# border, a deep fill where it has none (option menus).
FOCUS_RING = ("gray5", "gray95")
FOCUS_FILL = ("#0b2e6b", "#a8c7fa")
FOCUS_RING_WIDTH = 3


def focus_part(widget):
    """The inner Tk widget of a CustomTkinter control that takes the keyboard focus."""
    for name in ("_entry", "_textbox", "_canvas"):
        if hasattr(widget, name):
            return getattr(widget, name)
    return widget


def _ring(widget, on):
    """Draw or remove the focus ring: a border where the control has one, a colour where it has not."""
    if not hasattr(widget, "_ring_saved"):
        names = ("border_width", "border_color") if _has_option(widget, "border_color") else ("fg_color", "button_color")
        widget._ring_saved = {name: widget.cget(name) for name in names}
    if not on:
        widget.configure(**widget._ring_saved)
    elif "border_color" in widget._ring_saved:
        widget.configure(border_width=FOCUS_RING_WIDTH, border_color=FOCUS_RING)
    else:
        widget.configure(fg_color=FOCUS_FILL, button_color=FOCUS_FILL)


def _has_option(widget, name):
    try:
        widget.cget(name)
    except (ValueError, AttributeError, tk.TclError):
        return False
    return True


def keyboard_reachable(widget, activate=None):
    """Let Tab reach a CustomTkinter control (they draw on a canvas that takes no focus), skipping it while
    disabled; show a focus ring while it has the focus; Space and Return activate it."""
    part = focus_part(widget)
    part.configure(takefocus=lambda *_: 0 if _has_option(widget, "state") and widget.cget("state") == "disabled" else 1)
    part.bind("<FocusIn>", lambda _: _ring(widget, True), add="+")
    part.bind("<FocusOut>", lambda _: _ring(widget, False), add="+")
    if activate is not None:
        for key in ("<space>", "<Return>"):
            part.bind(key, lambda _: (activate(), "break")[1], add="+")


def activation_of(widget):
    """What Space/Return does on a control: press a button, flip a switch, open a menu."""
    for name in ("invoke", "toggle", "_open_dropdown_menu"):
        if isinstance(widget, (ctk.CTkButton, ctk.CTkSwitch, ctk.CTkOptionMenu)) and hasattr(widget, name):
            return getattr(widget, name)
    return None


def tab_order(*widgets):
    """Make Tab visit these siblings in this order (reading order): the controls among them become
    reachable, and frames among them keep their controls' place. Tk walks siblings in stacking order, so
    each is raised after the one before it; name every focusable sibling (or its frame) once."""
    for widget in widgets:
        if not isinstance(widget, ctk.CTkFrame) and type(widget) is not tk.Frame:  # CTk controls are tk.Frames too
            keyboard_reachable(widget, activation_of(widget))
        tk.Misc.lift(widget)


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
        self.ok_button = ctk.CTkButton(self, text="OK", width=90, command=self.destroy)
        self.ok_button.grid(row=1, column=0, pady=(0, 16))
        keyboard_reachable(self.ok_button, self.ok_button.invoke)
        self.bind("<Return>", lambda _: self.destroy())
        self.bind("<Escape>", lambda _: self.destroy())
        self.after(50, self.take_focus)

    def take_focus(self):
        """Come to the front with the keyboard focus, so Return and Escape answer this dialog."""
        if self.winfo_exists():
            self.lift()
            focus_part(self.ok_button).focus_force()
