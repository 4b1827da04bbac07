"""The dependency rule of the README's layout, checked on the source: each package imports
only the packages below it, so a newcomer can trust the map (issue: "One room per concern").

    modelyard (CLI)  ->  proxy, supervisor, tinymodels, modelyard_config
    proxy            ->  modelyard_config, openai_wire, supervisor.client, supervisor.errors
    supervisor       ->  modelyard_config, openai_wire
    sidecars         ->  openai_wire
    tinymodels       ->  modelyard_config
    modelyard_config, openai_wire  ->  nothing of the project
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from supervisor.paths import project_root

ROOT = project_root()
PROJECT = {
    "modelyard",
    "modelyard_config",
    "openai_wire",
    "proxy",
    "supervisor",
    "sidecars",
    "tinymodels",
    "harness",
    "tests",
    "bench",
    "eval",
}
# package -> what of the project it may import (a package name, or one module of it)
ALLOWED: dict[str, set[str]] = {
    "modelyard_config": set(),
    "openai_wire": set(),
    "sidecars": {"openai_wire"},
    "tinymodels": {"modelyard_config"},
    "supervisor": {"modelyard_config", "openai_wire"},
    "proxy": {"modelyard_config", "openai_wire", "supervisor.client", "supervisor.errors"},
}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def allowed(package: str, module: str) -> bool:
    top = module.split(".")[0]
    if top not in PROJECT or top == package:
        return True
    return any(module == a or module.startswith(a + ".") for a in ALLOWED[package])


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_lies_below_it(package: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for module in sorted(imports(path))
        if not allowed(package, module)
    ]
    assert wrong == []
