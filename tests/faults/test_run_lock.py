"""One run folder, one run: a second training run on a folder in use stops at once with one line naming the
first run's PID (it used to die mid-run with '[Errno 11] unable to lock file')."""
import subprocess
import sys

import pytest

from ml.core.atomic import FolderInUse, locked_folder
from ml.training.config import TrainConfig
from ml.training.pipeline import train_model
from tests.conftest import REPO

HOLD = ("import sys, time\nfrom ml.core.atomic import locked_folder\n"
        "with locked_folder(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(60)\n")


def test_a_second_run_on_a_folder_in_use_is_refused_with_the_first_ones_pid(flickr8k, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "run")], cwd=REPO, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        config = TrainConfig(encoder="efficientnet-lite0", epochs=1, units=16, self_critical_epochs=0)
        with pytest.raises(FolderInUse, match=f"in use by another run \\(PID {holder.pid}\\)"):
            train_model(flickr8k, tmp_path / "m.captioner", config, run_dir=tmp_path / "run", max_train_photos=30)
    finally:
        holder.kill()
        holder.wait()
    with locked_folder(tmp_path / "run"):  # free again once the holder is gone, even killed
        pass
