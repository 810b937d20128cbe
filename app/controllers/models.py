"""Models page: list, import, export, delete, set default."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from ml.core.types import PathLike
from ml.model_file.card import card_facts, headline_metrics

from ..models import RegistryError
from .shell import Shell

if TYPE_CHECKING:
    from ..models import ModelEntry, ModelRegistry
    from ..views.models_view import ModelsView
    from .tasks import TaskRunner


class ModelsController:
    def __init__(self, shell: Shell, view: ModelsView, runner: TaskRunner, registry: ModelRegistry,
                 on_models_changed: Callable[..., None], get_beam_width: Callable[[], int]):
        self.shell, self.view, self.runner, self.registry = shell, view, runner, registry
        self.on_models_changed = on_models_changed
        self.get_beam_width = get_beam_width  # the scores shown are the ones at the beam width in use
        self.entries: dict[str, ModelEntry] = {}  # by path
        for event, handler in {"<<ImportModel>>": self.ask_import, "<<ExportModel>>": self.ask_export,
                               "<<DeleteModel>>": self.delete, "<<UseModel>>": self.use_model,
                               "<<ModelSelected>>": self.show_selected}.items():
            view.on(event, handler)

    def refresh(self, select: Optional[Path] = None) -> None:
        """List the model files on a worker (each card is read and checked) and show them when read."""
        self.runner.submit("files", lambda report, cancel: self.registry.entries(),
                               on_done=lambda entries: self._show_entries(entries, select),
                               on_error=lambda error: self.shell.show_error(str(error)))

    def _show_entries(self, entries: list[ModelEntry], select: Optional[Path]) -> None:
        self.entries = {str(e.path): e for e in entries}
        active = self.registry.active_path()
        rows = []
        for key, entry in self.entries.items():
            _, test = headline_metrics(entry.card, self.get_beam_width()) or (0, {})
            flags = ", ".join(f for f, on in [("active", entry.path == active), ("shipped", entry.shipped),
                                              (f"unreadable: {entry.problem}", not entry.usable)] if on)
            rows.append((key, entry.name, entry.card.get("encoder", ""), f"{test.get('bleu4', 0):.1f}",
                         str(entry.card.get("created", ""))[:16].replace("T", " "), flags))
        self.view.set_models(rows)
        if select is not None and str(select) in self.entries:
            self.view.select(str(select))
        self.show_selected()

    def selected(self) -> Optional[ModelEntry]:
        return self.entries.get(self.view.selected_model())

    def show_selected(self) -> None:
        entry = self.selected()
        if entry is None:
            self.view.show_card([], deletable=False)
        elif not entry.usable:
            self.view.show_card([("File", str(entry.path)), ("Problem", entry.problem)], deletable=True)
        else:
            facts = card_facts(entry.card, self.get_beam_width()) + [("File", str(entry.path))]
            if not entry.shipped and entry.name != entry.card.get("name"):  # the user's name for it first
                facts[0] = ("Name", f"{entry.name} (trained as {entry.card.get('name', '?')})")
            self.view.show_card(facts, deletable=not entry.shipped)

    def ask_import(self) -> None:
        path = self.shell.dialogs.open_model()
        if path:
            self.import_model(path)

    def import_model(self, path: PathLike) -> None:
        """Check and copy the file on a worker (a large model must not freeze the window)."""
        def imported(entry: ModelEntry) -> None:
            self.refresh(select=entry.path)
            self.on_models_changed()

        self.runner.submit("files", lambda report, cancel: self.registry.add(path), on_done=imported,
                               on_error=lambda error: self.shell.show_error(str(error)))

    def ask_export(self) -> None:
        entry = self.selected()
        if entry:
            target = self.shell.dialogs.save_model(entry.path.name)
            if target:
                try:
                    self.registry.export(entry, Path(target))
                except OSError as error:
                    self.shell.show_error(f"{target}: cannot write ({error.strerror or error})")
                    return
                self.shell.notify(f"Exported the model {entry.name} to {target}")

    def delete(self) -> None:
        """Delete the selected model file after asking; if it was in use, the shipped model takes over."""
        entry = self.selected()
        if entry is None:
            return
        if entry.shipped:
            self.shell.show_error(f"{entry.name}: the shipped model cannot be deleted")
            return
        in_use = entry.path == self.registry.active_path()
        question = f"Delete the model '{entry.name}'? Its file is removed for good."
        if in_use:
            question += " It is the model in use: the shipped model will take over."
        if not self.shell.dialogs.confirm("Delete model?", question):
            return
        try:
            self.registry.delete(entry)
        except (RegistryError, OSError) as error:
            self.shell.show_error(str(error))
            return
        self.refresh()
        self.on_models_changed()

    def use_model(self) -> None:
        """Make the selected model the active one: the Caption page loads it, restarts and the CLI use it."""
        entry = self.selected()
        if entry and entry.usable:
            self.registry.set_active(entry.path)
            self.refresh()
            self.on_models_changed()
