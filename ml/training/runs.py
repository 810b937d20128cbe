"""Training run folders on disk: which runs a restart left unfinished (light: the app lists them at start,
before anything of training is loaded)."""
from __future__ import annotations

import json
from pathlib import Path

from ml.core.types import PathLike

# What a run folder records about its run, so that it can be found and resumed after a restart.
RUN_RECORD = "run.json"


def unfinished_runs(runs_folder: PathLike) -> list[dict]:
    """Runs in `runs_folder` that have not saved their model: {"run_dir", "data", "output", "max_train_photos",
    "config", "epochs_done"}, newest first. A folder that cannot be read is left out."""
    found = []
    for run_dir in sorted(Path(runs_folder).glob("*/"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            record = json.loads((run_dir / RUN_RECORD).read_text(encoding="utf-8"))
            state = json.loads((run_dir / "state.json").read_text(encoding="utf-8")) \
                if (run_dir / "state.json").is_file() else {"epoch": 0}
            if Path(record["output"]).is_file():
                continue
            found.append({**record, "run_dir": str(run_dir), "epochs_done": int(state.get("epoch", 0))})
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found
