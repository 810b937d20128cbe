"""Where captions go besides the screen, never harming a user's file.

sidecars  .txt files next to the photos (existing ones with other text kept unless asked)
metadata  captions written into the photos' EXIF/XMP/PNG descriptions with exiv2
"""
