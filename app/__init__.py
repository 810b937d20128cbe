"""The desktop app: models (state), views (customtkinter frames that only draw), controllers (wiring, workers)."""
