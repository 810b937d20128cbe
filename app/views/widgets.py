"""Small drawing pieces shared by the pages."""
import tkinter as tk
from tkinter import ttk

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


def _takes_focus(widget, part):
    """Tab stops here only while the control is shown and enabled (a callable takefocus overrides Tk's own
    check that a widget is viewable: hidden pages' controls trapped Tab)."""
    if not part.winfo_viewable():
        return False
    return not (_has_option(widget, "state") and widget.cget("state") == "disabled")


def keyboard_reachable(widget, activate=None):
    """Let Tab reach a CustomTkinter control (they draw on a canvas that takes no focus), skipping it while
    disabled; show a focus ring while it has the focus; Space and Return activate it."""
    part = focus_part(widget)
    part.configure(takefocus=lambda *_: 1 if _takes_focus(widget, part) else 0)
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


def tab_leaves_text_boxes(root):
    """Tab and Shift+Tab move on from every text box (the app's are read-only boxes and short notes, where a
    typed tab is never wanted; Tk's Text took Tab as a character, trapping the keyboard there)."""
    def move(event, step):
        step(event.widget).focus_set()
        return "break"

    root.bind_class("Text", "<Tab>", lambda event: move(event, tk.Misc.tk_focusNext))
    for key in ("<Shift-Tab>", "<ISO_Left_Tab>"):
        root.bind_class("Text", key, lambda event: move(event, tk.Misc.tk_focusPrev))


def keyboard_table(tree):
    """Reaching a table by Tab selects its first row when none is, so the arrow keys move at once (Tk's
    Treeview had no focus row until one was clicked)."""
    def reached(_event):
        rows = tree.get_children()
        if not rows:
            return
        if not tree.selection():
            tree.selection_set(tree.focus() or rows[0])
        tree.focus(tree.selection()[0])

    tree.bind("<FocusIn>", reached, add="+")


def wrap_to(container, label, margin=20):
    """Wrap the label's text to the container's width as the window is resized (a fixed wrap length
    clipped captions, reasons and the model card at small window sizes and left room unused at large)."""
    def follow(event):
        width = max(120, event.width - margin)
        if label.cget("wraplength") != width:
            label.configure(wraplength=width)

    container.bind("<Configure>", follow, add="+")


def name_for_speech(widget, name):
    """The name Speak mode says for a control whose own text does not name it (a list, a field, a table)."""
    widget.spoken_name = name
    return widget


def _control_of(part):
    """The CustomTkinter control a focused inner Tk widget belongs to (or the widget itself)."""
    master = getattr(part, "master", None)
    if master is not None and focus_part(master) is part:
        return master
    return part


def _text_of(control):
    try:
        return str(control.cget("text")).strip()
    except (ValueError, AttributeError, tk.TclError):
        return ""


def spoken_description(part) -> str:
    """What Speak mode says for the focused widget: its name, role and state ("Caption, button";
    "Beam, 5, list"; "Auto-speak, on, switch"; "Epochs, 20, text field")."""
    control = _control_of(part)
    name = getattr(control, "spoken_name", "") or _text_of(control)
    if isinstance(control, ctk.CTkSwitch):
        return f"{name}, {'on' if control.get() else 'off'}, switch"
    if isinstance(control, ctk.CTkOptionMenu):
        return f"{name}, {control.get()}, list"
    if isinstance(control, ctk.CTkEntry):
        return f"{name}, {control.get() or 'empty'}, text field"
    if isinstance(control, ctk.CTkTextbox):
        text = " ".join(control.get("1.0", "end").split())
        return f"{name}, text, {text[:300] or 'empty'}"
    if isinstance(control, ttk.Treeview):
        rows, row = control.get_children(), control.focus()
        if not rows:
            return f"{name}, table, empty"
        values = ", ".join(str(v) for v in control.item(row, "values") if str(v)) if row else ""
        place = f"row {rows.index(row) + 1} of {len(rows)}" if row in rows else f"{len(rows)} rows"
        return f"{name}, table, {place}{': ' + values if values else ''}"
    if isinstance(control, ctk.CTkButton):
        return f"{name}, button"
    return name


def heading(master, text):
    return ctk.CTkLabel(master, text=text, font=ctk.CTkFont(size=20, weight="bold"), anchor="w")


# Colours of the parts CustomTkinter does not theme (ttk tables, the plot), per appearance mode.
PALETTE = {
    "Light": {"background": "#f7f7f7", "text": "#1a1a1a", "heading": "#e2e2e2", "selected": "#3a7ebf",
              "grid": "#d0d0d0"},
    "Dark": {"background": "#2b2b2b", "text": "#e8e8e8", "heading": "#3a3a3a", "selected": "#1f538d",
             "grid": "#4a4a4a"},
}


def palette() -> dict:
    return PALETTE[ctk.get_appearance_mode()]


def theme_tables(root) -> None:
    """Give ttk tables (Folder and Models pages) the app's light or dark colours; call on a theme change."""
    colors = palette()
    style = ttk.Style(root)
    style.theme_use("clam")  # the default X11 theme ignores background colours
    style.configure("Treeview", background=colors["background"], fieldbackground=colors["background"],
                    foreground=colors["text"], rowheight=24, borderwidth=0)
    style.map("Treeview", background=[("selected", colors["selected"])], foreground=[("selected", "white")])
    style.configure("Treeview.Heading", background=colors["heading"], foreground=colors["text"], relief="flat")
    style.configure("Vertical.TScrollbar", background=colors["heading"], troughcolor=colors["background"],
                    arrowcolor=colors["text"], bordercolor=colors["background"], lightcolor=colors["heading"],
                    darkcolor=colors["heading"])


LOSS_COLORS = {"loss": "#3a7ebf", "val_loss": "#e07b39"}
LOSS_LABELS = {"loss": "train", "val_loss": "dev"}


def draw_losses(figure, epochs, colors) -> None:
    """Train and dev loss per epoch on a matplotlib figure, with axes, epoch numbers and a legend, in the
    given colours (the page's chart, and the self-test's check that the packaged fonts draw it)."""
    figure.clear()
    figure.set_facecolor(colors["background"])
    axes = figure.add_subplot()
    axes.set_facecolor(colors["background"])
    for key, color in LOSS_COLORS.items():
        points = [(e["epoch"], e[key]) for e in epochs if key in e and "epoch" in e]
        if points:
            axes.plot(*zip(*points), marker="o", color=color, label=LOSS_LABELS[key])
    axes.set_xlabel("epoch", color=colors["text"])
    axes.set_ylabel("loss", color=colors["text"])
    axes.set_title("loss per epoch", color=colors["text"], fontsize=10)
    axes.tick_params(colors=colors["text"])
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.grid(color=colors["grid"], linewidth=0.5)
    for spine in axes.spines.values():
        spine.set_color(colors["grid"])
    if epochs:
        axes.legend(facecolor=colors["background"], labelcolor=colors["text"], edgecolor=colors["grid"])


class LossPlot(ctk.CTkFrame):
    """Train and dev loss per epoch: a matplotlib chart in the page (draw_losses), in the app's light or
    dark colours. matplotlib is imported the first time the plot is shown, so it costs nothing at start-up;
    the caption-only build has none, and the frame says so in words instead (it raised at every visit)."""

    def __init__(self, master, **kwargs):
        super().__init__(master, **kwargs)
        self.epochs: list[dict] = []
        self.figure = self.canvas = None
        self.without_chart = None  # the words shown where matplotlib is missing
        self.bind("<Map>", lambda _: self._ensure_figure(), add="+")

    def _ensure_figure(self):
        if self.figure is not None or self.without_chart is not None:
            return
        try:
            from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg
            from matplotlib.figure import Figure
        except ImportError:
            self.without_chart = ctk.CTkLabel(self, text="The loss chart comes with the full build (with training).")
            self.without_chart.pack(expand=True)
            return
        self.figure = Figure(figsize=(5, 2.2), dpi=90, layout="constrained")
        focused = self.focus_get()
        self.canvas = FigureCanvasTkAgg(self.figure, master=self)
        # matplotlib's canvas asks for the keyboard focus when made, which Tk gives it once it is mapped: give it
        # back now (focus_set does nothing for the widget that has the focus and would leave the canvas its turn)
        if focused is not None:
            focused.focus_force()
        self.canvas.get_tk_widget().pack(fill="both", expand=True, padx=4, pady=4)
        self.plot(self.epochs)

    def plot(self, epochs):
        self.epochs = list(epochs)
        if self.figure is None or self.canvas is None:
            return
        draw_losses(self.figure, self.epochs, palette())
        self.canvas.draw_idle()
        name_for_speech(self.canvas.get_tk_widget(), self.spoken_summary())

    def spoken_summary(self) -> str:
        """The chart in words for Speak mode: the last epoch's losses, and the best dev loss."""
        done = [e for e in self.epochs if "loss" in e and "epoch" in e]
        if not done:
            return "Loss per epoch, chart, no epochs yet"
        last = done[-1]
        dev = [e for e in done if "val_loss" in e]
        best = min(dev, key=lambda e: e["val_loss"]) if dev else None
        best_text = f"; best dev loss {best['val_loss']:.2f} at epoch {best['epoch']}" if best else ""
        return (f"Loss per epoch, chart, {len(done)} epochs; epoch {last['epoch']}: training loss "
                f"{last['loss']:.2f}" + (f", dev loss {last['val_loss']:.2f}" if "val_loss" in last else "") + best_text)

    def restyle(self):
        """Redraw in the current light or dark colours."""
        self.plot(self.epochs)


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
