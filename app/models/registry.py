"""The model files the app knows: the shipped default (read-only) and the user's own models."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ml.core.atomic import copy_atomically, remove_stale_temp_files, write_text_atomically
from ml.core.defaults import ACTIVE_MODEL_RECORD, recorded_active_model
from ml.core.errors import UserError
from ml.core.types import PathLike
from ml.model_file import BUNDLE_SUFFIX, BundleError, read_card

# How the shipped model is listed (its file is assets/models/default.captioner).
SHIPPED_NAME = "shipped"


class RegistryError(UserError, ValueError):
    """A model operation that cannot be done; the message says why in one line."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    card: dict
    shipped: bool
    problem: str = ""  # why the file cannot be used (then card is empty); listed, never loaded

    @property
    def usable(self) -> bool:
        return not self.problem


class ModelRegistry:
    """Lists, imports, exports, deletes models; remembers which one is active (in use by the app and the CLI)."""

    def __init__(self, shipped_model: Path, user_dir: Path):
        self.shipped_model, self.user_dir = Path(shipped_model), Path(user_dir)
        self.state_file = self.user_dir / ACTIVE_MODEL_RECORD

    def entries(self) -> list[ModelEntry]:
        """Every model file, the shipped one first; a file that cannot be read is listed with its problem."""
        paths = [self.shipped_model] if self.shipped_model.is_file() else []
        if self.user_dir.is_dir():
            remove_stale_temp_files(self.user_dir)  # an import killed before its rename
            paths += sorted(self.user_dir.glob("*" + BUNDLE_SUFFIX))
        return [self._entry(path) for path in paths]

    def usable_entries(self) -> list[ModelEntry]:
        return [entry for entry in self.entries() if entry.usable]

    def _entry(self, path: Path) -> ModelEntry:
        shipped = path == self.shipped_model
        name = SHIPPED_NAME if shipped else path.stem
        try:
            return ModelEntry(name, path, read_card(path), shipped)
        except (BundleError, OSError) as error:
            return ModelEntry(name, path, {}, shipped, problem=str(error).removeprefix(f"{path}: "))

    def active_path(self) -> Path:
        """The model in use (the same record the CLI reads, ml.core.defaults.active_model_path); the shipped
        model when none was chosen or its file is gone."""
        return recorded_active_model(self.user_dir, self.shipped_model)

    def set_active(self, path: PathLike) -> None:
        self._save_state({"default": str(Path(path))})

    def add(self, source: PathLike, name: Optional[str] = None) -> ModelEntry:
        """Copy a model file in (checked first); the copy is atomic."""
        source = Path(source)
        card = read_card(source)
        self.user_dir.mkdir(parents=True, exist_ok=True)
        target = self.user_dir / f"{name or source.stem}{BUNDLE_SUFFIX}"
        if target.exists() or target.stem == SHIPPED_NAME:
            raise RegistryError(f"{target.name}: a model with this name already exists")
        copy_atomically(source, target)
        return ModelEntry(target.stem, target, card, False)

    def free_name(self, wanted: str) -> str:
        """`wanted`, or wanted-2, wanted-3… where a model of that name exists (a kept model is never replaced)."""
        name, number = wanted, 1
        while (self.user_dir / f"{name}{BUNDLE_SUFFIX}").exists() or name == SHIPPED_NAME:
            number += 1
            name = f"{wanted}-{number}"
        return name

    def rename(self, entry: ModelEntry, name: str) -> ModelEntry:
        """Give a user's model another name (its file's); the active record follows it."""
        if entry.shipped:
            raise RegistryError(f"{entry.name}: the shipped model cannot be renamed")
        target = self.user_dir / f"{name}{BUNDLE_SUFFIX}"
        if target == entry.path:
            return entry
        if target.exists() or name == SHIPPED_NAME:
            raise RegistryError(f"{target.name}: a model with this name already exists")
        was_active = self.active_path() == entry.path
        entry.path.rename(target)
        if was_active:
            self.set_active(target)
        return ModelEntry(name, target, entry.card, False)

    def export(self, entry: ModelEntry, destination: PathLike) -> None:
        copy_atomically(entry.path, destination)

    def delete(self, entry: ModelEntry) -> None:
        if entry.shipped:
            raise RegistryError(f"{entry.name}: the shipped model cannot be deleted")
        if self.active_path() == entry.path:
            self._save_state({})
        entry.path.unlink()

    def _save_state(self, state):
        write_text_atomically(self.state_file, json.dumps(state))
