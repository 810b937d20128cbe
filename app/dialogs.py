"""Native file dialogs, in one place so the controllers ask for paths the same way everywhere."""
from tkinter import filedialog, messagebox

from ml.data.images import IMAGE_SUFFIXES
from ml.model_file import BUNDLE_SUFFIX

PHOTO_TYPES = [("Photos", " ".join(f"*{suffix}" for suffix in sorted(IMAGE_SUFFIXES))), ("All files", "*")]


class Dialogs:
    def __init__(self, root):
        self.root = root

    def confirm(self, title: str, question: str) -> bool:
        """Yes or No from the user (No is the default: nothing of theirs is replaced by a stray Return)."""
        return messagebox.askyesno(title, question, parent=self.root, default=messagebox.NO)

    def choose(self, title: str, question: str):
        """Yes (True), No (False) or Cancel (None): for a question with two ways forward and a way back."""
        return messagebox.askyesnocancel(title, question, parent=self.root, default=messagebox.CANCEL)

    def open_photo(self, start_dir=""):
        return filedialog.askopenfilename(parent=self.root, title="Open a photo", initialdir=start_dir or None,
                                          filetypes=PHOTO_TYPES) or None

    def choose_folder(self, title):
        return filedialog.askdirectory(parent=self.root, title=title, mustexist=True) or None

    def save_speech(self, photo_path):
        name = (photo_path.stem if photo_path else "caption") + ".wav"
        return filedialog.asksaveasfilename(parent=self.root, title="Save speech", initialfile=name,
                                            defaultextension=".wav",
                                            filetypes=[("WAV audio", "*.wav"), ("MP3 audio (needs ffmpeg)", "*.mp3")]) or None

    def save_captions(self, folder, export_format):
        suffix = ".csv" if export_format.value == "CSV" else ".json"
        return filedialog.asksaveasfilename(parent=self.root, title="Export captions", initialdir=folder or None,
                                            initialfile="captions" + suffix, defaultextension=suffix) or None

    def open_model(self):
        return filedialog.askopenfilename(parent=self.root, title="Import a model",
                                          filetypes=[("Caption models", "*" + BUNDLE_SUFFIX), ("All files", "*")]) or None

    def save_model(self, name):
        return filedialog.asksaveasfilename(parent=self.root, title="Export model", initialfile=name,
                                            defaultextension=BUNDLE_SUFFIX) or None
