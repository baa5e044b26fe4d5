"""The README's layout table matches the tree: every module is named, every named path exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "components" / "inferstack"
# Files every package has; the table names what a reader looks for, not these.
IMPLICIT = {"__init__.py", "py.typed", "__pycache__"}


def layout_rows(readme: str) -> list[str]:
    """The first column of the table under '## Layout'."""
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return [
        line.split("|")[1]
        for line in section.splitlines()
        if line.startswith("| `") and line.count("|") >= 3
    ]


def expand(cell: str) -> set[str]:
    """The paths a cell names, relative to the repository.

    A name with a slash sets the folder; a bare name after it is in that folder
    (`components/inferstack/component.py`, `args.py`); `{a,b}` expands."""
    paths: set[str] = set()
    folder = ""
    for token in re.findall(r"`([^`]+)`", cell):
        names = [token]
        braces = re.search(r"\{([^}]*)\}", token)
        if braces:
            names = [token.replace(braces.group(0), part) for part in braces.group(1).split(",")]
        for name in names:
            if "/" in name.rstrip("/"):
                folder = name.rstrip("/").rsplit("/", 1)[0] + "/"
                paths.add(name.rstrip("/"))
            else:
                paths.add(folder + name.rstrip("/"))
    return paths


def documented() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return set().union(*(expand(cell) for cell in layout_rows(text)))


def test_every_named_path_exists() -> None:
    missing = sorted(path for path in documented() if not (ROOT / path).exists())
    assert missing == []


def test_every_package_and_module_of_inferstack_is_named() -> None:
    names = documented()
    unnamed = sorted(
        f"components/inferstack/{entry.name}"
        for entry in PACKAGE.iterdir()
        if entry.name not in IMPLICIT and f"components/inferstack/{entry.name}" not in names
    )
    assert unnamed == []


def test_every_tracked_top_level_folder_is_named() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    folders = {path.split("/", 1)[0] for path in tracked if "/" in path}
    folders = {folder for folder in folders if not folder.startswith(".")}
    named = {path.split("/", 1)[0] for path in documented()}
    assert sorted(folders - named) == []


def test_the_expansion_reads_folders_braces_and_bare_names() -> None:
    cell = " `a/b/{x,y}/`, `c.py` and `d/` "
    assert expand(cell) == {"a/b/x", "a/b/y", "a/b/c.py", "a/b/d"}
    row = "| `components/inferstack/nope/` | x |\n"
    assert expand(layout_rows("## Layout\n\n| path | what |\n|---|---|\n" + row)[0]) == {
        "components/inferstack/nope"
    }
