"""Earwitness: find protected music used without permission on other people's platforms.

Layers (``docs/architecture.md``): :mod:`earwitness.kernel` at the bottom, the stages
(``matchers``, ``crawler``, ``notices``, ``webapp``, ``fixtures``) above it, and
:mod:`earwitness.app` with ``scheduler.py`` on top.
"""

__version__ = "0.1.0"
