"""Write ``requirements.lock``: every package ``earwitness[test]`` needs, pinned to the installed version.

The lock is read from the environment the test suite passed in (installed distributions and
their declared requirements, markers evaluated for this interpreter), not from a fresh
resolution, so it pins exactly what was tested. To refresh it (README, "Install"):

    python3 -m pip install -q --upgrade --upgrade-strategy eager -e '.[test]'
    bash scripts/test.sh && python3 scripts/lock.py > requirements.lock

``--size`` prints instead the disk size of those packages as installed (from each
distribution's RECORD), largest first: the figure the README quotes.
"""

from __future__ import annotations

import argparse
import platform
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = "earwitness"
EXTRAS = ("test",)


def closure(root: str = ROOT, extras: tuple[str, ...] = EXTRAS) -> dict[str, metadata.Distribution]:
    """The installed distributions reachable from ``root[extras]``, by canonical name (root excluded)."""
    found: dict[str, metadata.Distribution] = {}
    todo: list[tuple[str, tuple[str, ...]]] = [(root, extras)]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            sys.exit(f"lock: {name} is required but not installed; run scripts/setup.sh first")
        if name != root:
            found[name] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is not None and not any(
                    req.marker.evaluate({**default_environment(), "extra": extra}) for extra in ("", *wanted)):
                continue
            todo.append((canonicalize_name(req.name), tuple(sorted(req.extras))))
    return found


def installed_bytes(dist: metadata.Distribution) -> int:
    """Bytes on disk of a distribution's installed files (its RECORD)."""
    total = 0
    for file in dist.files or []:
        path = Path(dist.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", action="store_true", help="print installed sizes instead of the lock")
    args = parser.parse_args()
    dists = closure()
    if args.size:
        sizes = sorted(((installed_bytes(d), n) for n, d in dists.items()), reverse=True)
        for size, name in sizes:
            print(f"{size / 2**20:8.1f} MiB  {name}")
        print(f"{sum(s for s, _ in sizes) / 2**20:8.1f} MiB  total, {len(sizes)} packages")
        return
    print("# Exact versions of everything `earwitness[test]` needs, as installed when the suite last passed.")
    print(f"# Python {platform.python_version()} on {platform.system()} {platform.machine()}; "
          "scripts/setup.sh installs with `pip install -c requirements.lock`.")
    print("# Refresh: see scripts/lock.py (upgrade, run the suite, then `python3 scripts/lock.py > requirements.lock`).")
    for name in sorted(dists):
        print(f"{name}=={dists[name].version}")


if __name__ == "__main__":
    main()
