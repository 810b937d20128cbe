"""How sure a caption is and how it is said: confidence signals, their calibration on dev, hedged wording and contradicted labels, and where the model looked (attention)."""
