"""Packaging that pyproject.toml cannot say: ship the top-level ``config/`` folder (YAML defaults,
site files, letter templates, Kibana objects) inside the package as ``earwitness/config``.

A wheel, ``pip install .`` or pipx then carries the defaults, and
``earwitness.kernel.settings.CONFIG_DIR`` finds them there; an editable checkout keeps
reading ``config/`` where it stands. Everything else is declared in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

CODE = ["earwitness*", "matchers*", "crawler*", "notices*", "fixtures*", "webapp*"]

setup(
    packages=find_namespace_packages(include=CODE) + ["earwitness.config"],
    package_dir={"earwitness.config": "config"},
)
