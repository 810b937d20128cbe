"""Checks of the JSON files a user can hand the app (model cards, vocabularies) against JSON Schemas:
every field by type and range, so a wrong file fails with one line instead of a TypeError deep inside."""
from __future__ import annotations

from typing import Any, Optional


def schema_problem(data: Any, schema: dict) -> Optional[str]:
    """The most relevant reason `data` does not fit `schema`, in one short line, or None if it fits."""
    import jsonschema  # 50 ms: imported by the first check (a worker's), not before the app's window shows

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if error is None:
        return None
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return f"{error.json_path}: {message}"
