"""A trained model as one file a user can copy (the .captioner zip): its card, writing it, and reading it back (the security boundary: anything a user hands the app is checked here)."""
