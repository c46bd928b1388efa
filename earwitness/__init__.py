"""Earwitness: find protected music used without permission on other people's platforms.

Core shared by every stage: settings (:mod:`earwitness.settings`), the SQL store
(:mod:`earwitness.store`) and the command line (:mod:`earwitness.cli`).
"""

__version__ = "0.1.0"
