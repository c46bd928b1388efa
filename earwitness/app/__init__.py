"""The application layer: the glue between stages, the command tree, the daemon's jobs, the demo.

Only this layer (and ``scheduler.py``) may import more than one stage; it hands each stage its
collaborators (what the crawler calls when a clip is stored, the audio test of a re-check).

Every settings section is typed by :mod:`earwitness.app.sections`; the command line imports it
before loading the settings, and so does each module here that reads an application section
(kept out of this package's import, so ``earwitness --help`` stays fast).
"""
