"""Train page: choose a data set, see what was found, train with two-phase progress and a loss curve."""
import customtkinter as ctk

from ..constants import DECODER_CHOICES, DEFAULT_DECODER, DEFAULT_ENCODER, ENCODER_CHOICES
from .widgets import LossPlot, PageFrame, heading, name_for_speech, tab_order

ENCODER_NOTES = {
    "efficientnet-lite2": "Offline. Google's EfficientNet-Lite2 ImageNet weights (Apache-2.0).",
    "efficientnet-lite0": "Offline, faster, a little weaker.",
    "xception": "Downloads Keras' Xception ImageNet weights (about 80 MB) on first use; needs internet.",
}


class TrainView(PageFrame):
    """Draws the train page; raises <<ChooseDataset>>, <<StartTraining>>, <<CancelTraining>>,
    <<ResumeTraining>>, <<UseTrainedModel>>, <<ResumeUnfinishedRun>>."""

    def __init__(self, master, **kwargs):
        super().__init__(master, fg_color="transparent", **kwargs)
        self.grid_columnconfigure(0, weight=1)
        self.grid_columnconfigure(1, weight=1)
        self.grid_rowconfigure(3, weight=1)
        heading(self, "Train your own model").grid(row=0, column=0, sticky="w", padx=20, pady=(16, 4))
        self._build_dataset()
        self._build_settings()
        self._build_progress()
        tab_order(self.encoder_menu, self.epochs_entry, self.advanced_switch, self.advanced, self.buttons_frame)
        tab_order(self.batch_entry, self.rate_entry, self.photos_entry, self.decoder_menu)
        tab_order(self.start_button, self.cancel_button, self.resume_button)
        tab_order(self.choose_button, self.unfinished)
        tab_order(self.unfinished_menu, self.resume_run_button)
        tab_order(self.name_entry, self.use_button)
        self.set_running(False, can_resume=False, has_result=False)

    # ============ data set ============
    def _build_dataset(self):
        data = ctk.CTkFrame(self)
        data.grid(row=1, column=0, columnspan=2, sticky="ew", padx=20, pady=6)
        data.grid_columnconfigure(1, weight=1)
        self.choose_button = ctk.CTkButton(data, text="Choose data set folder…",
                                           command=lambda: self.emit("<<ChooseDataset>>"))
        self.choose_button.grid(row=0, column=0, padx=10, pady=10)
        self.dataset_label = ctk.CTkLabel(data, text="Flickr8k layout, Images/ + captions.txt, or photos + an image,caption CSV",
                                          anchor="w", justify="left", wraplength=760)
        self.dataset_label.grid(row=0, column=1, sticky="ew", padx=10)
        self.unfinished = ctk.CTkFrame(data, fg_color="transparent")  # shown when there are unfinished runs
        ctk.CTkLabel(self.unfinished, text="Unfinished runs").grid(row=0, column=0, padx=(10, 8))
        self.unfinished_menu = name_for_speech(ctk.CTkOptionMenu(self.unfinished, values=["-"], width=420),
                                               "Unfinished runs")
        self.unfinished_menu.grid(row=0, column=1)
        self.resume_run_button = ctk.CTkButton(self.unfinished, text="Resume this run", width=130,
                                               command=lambda: self.emit("<<ResumeUnfinishedRun>>"))
        self.resume_run_button.grid(row=0, column=2, padx=8)

    # ============ settings ============
    def _build_settings(self):
        settings = ctk.CTkFrame(self)
        settings.grid(row=2, column=0, sticky="nsew", padx=(20, 10), pady=6)
        ctk.CTkLabel(settings, text="Encoder").grid(row=0, column=0, sticky="w", padx=10, pady=(10, 2))
        self.encoder_menu = name_for_speech(ctk.CTkOptionMenu(settings, values=list(ENCODER_CHOICES),
                                                              command=self._show_encoder_note), "Encoder")
        self.encoder_menu.set(DEFAULT_ENCODER)
        self.encoder_menu.grid(row=0, column=1, sticky="w", padx=10, pady=(10, 2))
        self.encoder_note = ctk.CTkLabel(settings, text=ENCODER_NOTES[DEFAULT_ENCODER], text_color="gray50",
                                         wraplength=380, justify="left")
        self.encoder_note.grid(row=1, column=0, columnspan=2, sticky="w", padx=10)
        self.epochs_entry = self._field(settings, 2, "Epochs", "20")
        self.advanced_switch = ctk.CTkSwitch(settings, text="Advanced", command=self._toggle_advanced)
        self.advanced_switch.grid(row=3, column=0, sticky="w", padx=10, pady=6)
        self._build_advanced(settings)
        self._build_buttons(settings)

    def _build_advanced(self, settings):
        self.advanced = ctk.CTkFrame(settings, fg_color="transparent")
        self.batch_entry = self._field(self.advanced, 0, "Batch size", "64")
        self.rate_entry = self._field(self.advanced, 1, "Learning rate", "0.001")
        self.photos_entry = self._field(self.advanced, 2, "Training photos (empty: all)", "")
        ctk.CTkLabel(self.advanced, text="Decoder").grid(row=3, column=0, sticky="w", padx=10, pady=2)
        self.decoder_menu = name_for_speech(ctk.CTkOptionMenu(self.advanced, values=list(DECODER_CHOICES)), "Decoder")
        self.decoder_menu.set(DEFAULT_DECODER)
        self.decoder_menu.grid(row=3, column=1, sticky="w", padx=10, pady=2)

    def _build_buttons(self, settings):
        buttons = self.buttons_frame = ctk.CTkFrame(settings, fg_color="transparent")
        buttons.grid(row=5, column=0, columnspan=2, sticky="w", padx=10, pady=10)
        self.start_button = ctk.CTkButton(buttons, text="Start", width=90,
                                          command=lambda: self.emit("<<StartTraining>>"))
        self.cancel_button = ctk.CTkButton(buttons, text="Cancel", width=90, fg_color="gray40",
                                           command=lambda: self.emit("<<CancelTraining>>"))
        self.resume_button = ctk.CTkButton(buttons, text="Resume", width=90,
                                           command=lambda: self.emit("<<ResumeTraining>>"))
        for column, button in enumerate([self.start_button, self.cancel_button, self.resume_button]):
            button.grid(row=0, column=column, padx=(0, 8))

    # ============ progress ============
    def _build_progress(self):
        progress = ctk.CTkFrame(self)
        progress.grid(row=2, column=1, rowspan=2, sticky="nsew", padx=(10, 20), pady=6)
        progress.grid_columnconfigure(0, weight=1)
        progress.grid_rowconfigure(4, weight=1)
        steps = "Step 1: photo features   Step 2: training epochs   Step 3: fine-tuning"
        self.phase_label = ctk.CTkLabel(progress, text=steps, anchor="w")
        self.phase_label.grid(row=0, column=0, sticky="ew", padx=10, pady=(10, 2))
        self.progress_bar = ctk.CTkProgressBar(progress)
        self.progress_bar.set(0)
        self.progress_bar.grid(row=1, column=0, sticky="ew", padx=10, pady=4)
        self.loss_plot = LossPlot(progress)
        self.loss_plot.grid(row=2, column=0, sticky="ew", padx=6, pady=6)
        self.results_box = name_for_speech(ctk.CTkTextbox(progress, height=140, wrap="word"), "Training results")
        self.results_box.grid(row=4, column=0, sticky="nsew", padx=10, pady=4)
        adopt = ctk.CTkFrame(progress, fg_color="transparent")
        adopt.grid(row=5, column=0, sticky="e", padx=10, pady=(4, 10))
        ctk.CTkLabel(adopt, text="Name").grid(row=0, column=0, padx=(0, 6))
        self.name_entry = name_for_speech(ctk.CTkEntry(adopt, width=240, placeholder_text="a name for the new model"),
                                          "Name for the new model")
        self.name_entry.grid(row=0, column=1, padx=(0, 8))
        self.use_button = ctk.CTkButton(adopt, text="Use this model", command=lambda: self.emit("<<UseTrainedModel>>"))
        self.use_button.grid(row=0, column=2)

    @staticmethod
    def _field(master, row, label, default):
        ctk.CTkLabel(master, text=label).grid(row=row, column=0, sticky="w", padx=10, pady=2)
        entry = name_for_speech(ctk.CTkEntry(master, width=120), label)
        entry.insert(0, default)
        entry.grid(row=row, column=1, sticky="w", padx=10, pady=2)
        return entry

    def _toggle_advanced(self):
        if self.advanced_switch.get():
            self.advanced.grid(row=4, column=0, columnspan=2, sticky="w")
        else:
            self.advanced.grid_forget()

    def _show_encoder_note(self, encoder):
        self.encoder_note.configure(text=ENCODER_NOTES[encoder])

    # ============ data API for the controller ============
    def get_settings(self) -> dict:
        """The form as plain strings; the controller checks them."""
        return {"encoder": self.encoder_menu.get(), "epochs": self.epochs_entry.get(),
                "batch_size": self.batch_entry.get(), "learning_rate": self.rate_entry.get(),
                "max_train_photos": self.photos_entry.get(), "decoder": self.decoder_menu.get()}

    def set_field(self, name, value):
        entry = {"epochs": self.epochs_entry, "batch_size": self.batch_entry, "learning_rate": self.rate_entry,
                 "max_train_photos": self.photos_entry}[name]
        entry.delete(0, "end")
        entry.insert(0, str(value))

    def set_encoder(self, encoder):
        self.encoder_menu.set(encoder)
        self._show_encoder_note(encoder)

    def set_unfinished_runs(self, descriptions):
        """List runs that can be resumed after a restart (hidden when there are none)."""
        if descriptions:
            self.unfinished_menu.configure(values=descriptions)
            self.unfinished_menu.set(descriptions[0])
            self.unfinished.grid(row=1, column=0, columnspan=2, sticky="w", pady=(0, 8))
        else:
            self.unfinished.grid_forget()

    def chosen_unfinished_run(self) -> str:
        return self.unfinished_menu.get()

    def set_dataset_report(self, text):
        self.dataset_label.configure(text=text)

    def set_running(self, running, can_resume, has_result):
        self.start_button.configure(state="disabled" if running else "normal")
        self.choose_button.configure(state="disabled" if running else "normal")
        self.cancel_button.configure(state="normal" if running else "disabled")
        self.resume_button.configure(state="normal" if (can_resume and not running) else "disabled")
        self.use_button.configure(state="normal" if (has_result and not running) else "disabled")

    def set_training_unavailable(self, reason):
        """A build without TensorFlow: say why training is off, and offer nothing that would start it."""
        for button in (self.choose_button, self.start_button, self.resume_button):
            button.configure(state="disabled")
        self.phase_label.configure(text=reason)

    def show_progress(self, phase_text, fraction):
        self.phase_label.configure(text=phase_text)
        self.progress_bar.set(max(0.0, min(1.0, fraction)))

    def plot_losses(self, epochs):
        self.loss_plot.plot(epochs)

    def set_model_name(self, name):
        self.name_entry.delete(0, "end")
        self.name_entry.insert(0, name)

    def get_model_name(self) -> str:
        return self.name_entry.get().strip()

    def set_results(self, text):
        self.results_box.delete("1.0", "end")
        self.results_box.insert("1.0", text)
