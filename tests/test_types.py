"""The public surface of ml/ and of the app's controllers and models is typed, and the types check."""
import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TYPED = ["ml", "app/controllers", "app/models"]  # mypy (pyproject.toml) also checks benchmarks/ and scripts/


def _untyped_public_functions(path: Path) -> list:
    """'file:line name(argument)' for each public function or method missing an annotation."""
    missing = []

    def visit(node, public=True):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, public and not child.name.startswith("_"))
            elif isinstance(child, ast.FunctionDef) and public and (
                    not child.name.startswith("_") or child.name in ("__init__", "__call__")):
                arguments = child.args.posonlyargs + child.args.args + child.args.kwonlyargs
                names = [a.arg for a in arguments if a.annotation is None and a.arg not in ("self", "cls")]
                if child.returns is None and child.name != "__init__":
                    names.append("return")
                missing.extend(f"{path.relative_to(REPO)}:{child.lineno} {child.name}({name})" for name in names)

    visit(ast.parse(path.read_text()))
    return missing


def test_every_public_function_says_what_it_takes_and_gives():
    files = [path for folder in TYPED for path in sorted((REPO / folder).rglob("*.py"))]
    assert [line for path in files for line in _untyped_public_functions(path)] == []


def test_the_types_check():
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


def test_the_linter_passes():
    """ruff with the rules pyproject.toml names (pyflakes, pycodestyle, import order, bugbear)."""
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]
