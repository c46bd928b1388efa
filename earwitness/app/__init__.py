"""The application layer: the glue between stages, the command tree, the daemon's jobs, the demo.

Only this layer (and ``scheduler.py``) may import more than one stage; it hands each stage its
collaborators (what the crawler calls when a clip is stored, the audio test of a re-check).
"""

from earwitness.app import sections as _sections  # noqa: F401,E402  (every settings section typed before loading)
