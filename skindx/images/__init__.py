"""Images in: bytes, paths, PIL images or arrays become safe RGB ``uint8`` arrays within a
memory budget (``ImageRejected`` otherwise, with a sentence a person can act on), plus the
pixel-level preprocessing the model uses and the photo-quality checks that warn when a photo is
darker, brighter or blurrier than the images the model learned from. Imports nothing above it.
"""
