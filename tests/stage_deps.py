"""Each DVC stage's Python modules, derived from its command's imports, against the `deps:` dvc.yaml declares.

A stage's command is `python -m imdb_bert.stages.NAME`. Its modules are that module and everything of the package it
imports, transitively: `import` and `from ... import` anywhere in a file (inside functions too), the packages above
each imported module (their `__init__.py` runs first), and modules named in a string constant, the way
`imdb_bert.models` loads a library by name. A package marker that holds only a docstring changes nothing and is not
counted. tests/test_stage_deps.py fails on a module a stage imports but does not declare, and on one it declares but
no longer imports.
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

import yaml

PACKAGE = "imdb_bert"

# Modules that cannot change a stage's outputs: declaring them would rerun every stage for a log or message edit.
OUTPUT_NEUTRAL = {
    "src/imdb_bert/errors.py": "PipelineError and run_stage: how an error is printed and the exit code, no output",
    "src/imdb_bert/runtime_logs.py": "filters TensorFlow's and JAX's start-up lines from stderr",
}


def module_file(root: Path, name: str) -> Path | None:
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    stem = root / "src" / name.replace(".", "/")
    for path in (stem.with_suffix(".py"), stem / "__init__.py"):
        if path.is_file():
            return path
    return None


def _package(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root / "src").with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts[:-1])


def imported_names(root: Path, path: Path) -> set[str]:
    """Module names `path` imports, or names in string constants that may be modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _package(root, path)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(PACKAGE + "."):
            names.add(node.value)
    return names


def is_marker(path: Path) -> bool:
    """A package `__init__.py` with nothing but a docstring."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return path.name == "__init__.py" and all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                                              for node in body)


def closure(root: Path, start: Path) -> set[Path]:
    seen: set[Path] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_names(root, path):
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                found = module_file(root, ".".join(parts[:end]))
                if found:
                    todo.append(found)
    return seen


def stage_module(command: str) -> str | None:
    words = shlex.split(command)
    return words[words.index("-m") + 1] if "-m" in words and words.index("-m") + 1 < len(words) else None


def declared_python(root: Path, deps: list[str]) -> set[Path]:
    """The .py files a stage's deps name, folders expanded."""
    files: set[Path] = set()
    for dep in deps:
        path = root / dep
        if path.is_file() and path.suffix == ".py":
            files.add(path)
        elif path.is_dir() and dep.startswith("src/"):
            files.update(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
    return files


def check(root: Path) -> list[str]:
    """One line per stage whose deps miss a module it imports, or name a module it does not import."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    problems = []
    for name, stage in stages.items():
        module = stage_module(stage["cmd"])
        start = module_file(root, module) if module else None
        if start is None:
            problems.append(f"{name}: its cmd {stage['cmd']!r} is not `python -m {PACKAGE}.stages.NAME`")
            continue
        used = {path for path in closure(root, start) if not is_marker(path)}
        declared = declared_python(root, [str(dep) for dep in stage.get("deps", [])])
        neutral = {root / path for path in OUTPUT_NEUTRAL}
        missing = sorted(str(p.relative_to(root)) for p in used - declared - neutral)
        unused = sorted(str(p.relative_to(root)) for p in declared - used)
        if missing:
            problems.append(f"{name}: imports {', '.join(missing)} but dvc.yaml does not list them in its deps")
        if unused:
            problems.append(f"{name}: dvc.yaml lists {', '.join(unused)} in its deps, but the stage does not import "
                            f"them")
    return problems


def stage_modules(root: Path, name: str) -> list[str]:
    """The modules a stage must declare (for writing dvc.yaml)."""
    stage = yaml.safe_load((root / "dvc.yaml").read_text())["stages"][name]
    start = module_file(root, stage_module(stage["cmd"]))
    neutral = {root / path for path in OUTPUT_NEUTRAL}
    return sorted(str(p.relative_to(root)) for p in closure(root, start) if not is_marker(p) and p not in neutral)
