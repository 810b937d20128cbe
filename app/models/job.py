"""State of the one long job (training or folder captioning) a page is running."""
from dataclasses import dataclass, field


@dataclass
class JobState:
    kind: str = ""  # "train" or "folder"
    running: bool = False
    phase: str = ""
    done: int = 0
    total: int = 0
    eta_s: float = 0.0
    message: str = ""
    epochs: list = field(default_factory=list)  # {"epoch", "loss", "val_loss"} per finished epoch
    error: str = ""
    cancelled: bool = False

    def start(self, kind):
        self.__init__(kind=kind, running=True)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0
