"""Where captions go besides the screen: .txt sidecars next to the photos and descriptions written into the photos' metadata."""
