"""What a packaged build needs from the system: every shared library its files link that it does not carry,
found with ldd over each packed ELF file (with the bundle first on the library path, as its launcher sets it),
and the Debian package that provides it here, then what the app opens at run time without linking it. Prints a
Markdown table with a column per build (the README shows it).

    .venv/bin/python scripts/system_libraries.py dist/ImageCaptioner dist/ImageCaptioner-caption
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


# Opened at run time, so ldd cannot see them: (what, Debian 12 package, by whom).
OPENED_AT_RUN_TIME = [("`libasound2.so.2` (sound)", "libasound2", "opened by miniaudio, or the packed PulseAudio client"),
                      ("fontconfig's configuration", "fontconfig-config", "opened for Tk's text"),
                      ("a font", "fonts-dejavu-core", "opened for Tk's text")]


def soname(path: Path) -> str:
    dynamic = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    return next((line.split("[")[1].rstrip("]") for line in dynamic.splitlines() if "(SONAME)" in line), "")


def carried_names(folder: Path) -> set[str]:
    """File names and sonames of the packed libraries: some load by path (pyexiv2 loads its libexiv2.so, whose
    soname libexiv2.so.28 its module then links), which ldd reports as not found."""
    libraries = [p for p in folder.rglob("*.so*") if p.is_file() and is_elf(p)]
    return {p.name for p in libraries} | {soname(p) for p in libraries}


def system_libraries(folder: Path) -> dict[str, tuple[str, int]]:
    """Library name -> (where this system has it, or "not found"; how many packed files link it)."""
    bundle = folder / "_internal"
    carried = carried_names(folder)
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
    return {name: (where[name], len(files)) for name, files in needed_by.items()}


def main() -> None:
    folders = [Path(argument) for argument in sys.argv[1:]]
    found = {folder: system_libraries(folder) for folder in folders}
    names = sorted({name for libraries in found.values() for name in libraries})
    print("| library | Debian 12 package | " + " | ".join(f"{folder.name} (files)" for folder in folders) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in folders) + " |")
    for name in names:
        target = next(found[folder][name][0] for folder in folders if name in found[folder])
        package = debian_package(target) if target != "not found" else "not found"
        counts = [str(found[folder][name][1]) if name in found[folder] else "-" for folder in folders]
        print(f"| `{name}` | {package} | " + " | ".join(counts) + " |")
    for what, package, by_whom in OPENED_AT_RUN_TIME:
        print(f"| {what} | {package} | " + " | ".join([by_whom] + ["the same"] * (len(folders) - 1)) + " |")


if __name__ == "__main__":
    main()
