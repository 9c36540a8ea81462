"""The architecture is checked, not described: the import contracts hold, cover every
package, and fail when someone breaks them; the README's layout names every package;
nothing points at a file outside the repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("backend", "graphql_schema", "workers", "migrations")
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _contract(contract_id: str) -> dict[str, object]:
    return next(c for c in CONTRACTS["contracts"] if c["id"] == contract_id)


def _children(package: str) -> set[str]:
    """The modules and packages directly inside ``package``, as dotted names."""
    found = set()
    for path in (ROOT / package.replace(".", "/")).iterdir():
        if path.name.startswith(("_", ".")):
            continue
        if path.is_dir() and (path / "__init__.py").exists():
            found.add(f"{package}.{path.name}")
        elif path.suffix == ".py":
            found.add(f"{package}.{path.stem}")
    return found


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, ahead of the editable install of the checkout.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def copy_of_the_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("architecture")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_every_domain_package_is_kept_below_the_api() -> None:
    """A new backend package is held by the contract from the day it is added."""
    listed = set(_contract("domain-below-api")["source_modules"])  # type: ignore[arg-type]
    assert listed == _children("backend") - {"backend.entrypoints"}


def test_the_contracts_hold(copy_of_the_code: Path) -> None:
    result = _lint_imports(copy_of_the_code)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # The domain reaching up into the API: what the README promised never happens.
        (
            "backend/journeys/__init__.py",
            "import graphql_schema.errors",
            "The domain imports neither the API",
        ),
        # A domain module importing the composition root, as backend/ratelimit.py once did.
        (
            "backend/ratelimit.py",
            "import backend.entrypoints.app",
            "The domain imports neither the API",
        ),
        ("workers/broker.py", "import graphql_schema.errors", "never import each other"),
        ("graphql_schema/errors.py", "import workers.broker", "never import each other"),
        ("graphql_schema/relay.py", "import backend.entrypoints.cli", "nothing imports it"),
        # A cycle between two domain packages (models import the vocabulary, never back).
        ("backend/vocabulary/roles.py", "import backend.models", "No cycles"),
        # Product domains are independent of one another ...
        ("backend/journeys/__init__.py", "import backend.feedback.service", "in layers"),
        # ... and persistence knows nothing of who is calling.
        ("backend/db/__init__.py", "import backend.authz.access", "in layers"),
    ],
)
def test_a_deliberate_violation_fails_the_lint(
    copy_of_the_code: Path, module: str, line: str, contract: str
) -> None:
    path = copy_of_the_code / module
    original = path.read_text()
    path.write_text(f"{original}\n{line}  # noqa\n")
    try:
        result = _lint_imports(copy_of_the_code)
    finally:
        path.write_text(original)
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout


def _readme_layout() -> set[str]:
    """The packages the README's layout names, as dotted paths: a line names one or more
    directories (``journeys/ feedback/``) under the last line indented less."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    named: set[str] = set()
    parents: list[str] = []
    for line in block.splitlines():
        match = re.match(r"^( *)((?:[\w.]+/ ?)+)", line)
        if match is None:
            continue
        depth = len(match.group(1)) // 2
        names = [n.rstrip("/") for n in match.group(2).split()]
        parents = parents[:depth]
        named |= {".".join([*parents, name]) for name in names}
        parents.append(names[0])
    return named


@pytest.mark.parametrize(
    "package",
    sorted(
        p
        for top in ("backend", "graphql_schema", "workers")
        for p in _children(top)
        if (ROOT / p.replace(".", "/")).is_dir()
    ),
)
def test_the_readme_layout_names_every_package(package: str) -> None:
    assert package in _readme_layout()


def test_the_readme_layout_names_only_what_exists() -> None:
    for package in _readme_layout():
        assert (ROOT / package.replace(".", "/")).is_dir(), package


def _repository_files() -> list[Path]:
    git = shutil.which("git")
    assert git is not None, "the architecture tests read the file list from git"
    listed = subprocess.run(
        [git, "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_nothing_points_at_a_file_outside_the_repository() -> None:
    """Code, docs and the schema state their rules themselves (docs/), not by reference."""
    outside = re.compile(r"\bSPEC\b|\.\./shared/")
    found = []
    for path in _repository_files():
        if path == Path(__file__).resolve():  # the pattern itself
            continue
        if path.suffix in {".png", ".ico", ".woff2", ".lock"} or path.name.endswith(".json"):
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found += [
            f"{path.relative_to(ROOT)}:{n}"
            for n, line in enumerate(text.splitlines(), 1)
            if outside.search(line)
        ]
    assert found == []
