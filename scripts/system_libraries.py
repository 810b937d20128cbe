"""What a packaged build needs from the system: every shared library its files link that it does not carry,
found with ldd over each packed ELF file (with the bundle first on the library path, as its launcher sets it),
and the Debian package that provides it here. Prints a Markdown table (docs/packaging.md shows it).

    .venv/bin/python scripts/system_libraries.py dist/ImageCaptioner
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path


def is_elf(path: Path) -> bool:
    with open(path, "rb") as file:
        return file.read(4) == b"\x7fELF"


def linked(path: Path, bundle: Path) -> dict[str, str]:
    """Library name -> where it resolves (or "not found"), for one ELF file."""
    environment = dict(os.environ, LD_LIBRARY_PATH=str(bundle))
    result = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=environment)
    libraries = {}
    for line in result.stdout.splitlines():
        name, arrow, target = line.strip().partition(" => ")
        if arrow:
            libraries[name] = target.split(" (")[0]
    return libraries


def debian_package(path: str) -> str:
    resolved = subprocess.run(["dpkg", "-S", str(Path(path).resolve())], capture_output=True, text=True)
    if resolved.returncode != 0:
        resolved = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
    return resolved.stdout.split(":")[0] if resolved.returncode == 0 else "?"


def main() -> None:
    folder = Path(sys.argv[1])
    bundle = folder / "_internal"
    carried = {p.name for p in folder.rglob("*.so*")}  # some load by path (pyexiv2's libexiv2): ldd misses them
    needed_by: dict[str, set] = defaultdict(set)
    where: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        if not is_elf(path):
            continue
        for name, target in linked(path, bundle).items():
            outside = not target.startswith(str(bundle.resolve())) and not target.startswith(str(bundle))
            if outside and not (target == "not found" and name in carried):
                needed_by[name].add(path.relative_to(folder).as_posix())
                where[name] = target
    print("| library | Debian 12 package | needed by (files) |")
    print("| --- | --- | --- |")
    for name in sorted(needed_by):
        package = debian_package(where[name]) if where[name] != "not found" else "not found"
        print(f"| `{name}` | {package} | {len(needed_by[name])} |")


if __name__ == "__main__":
    main()
