"""The docs site builds with MkDocs in strict mode: every page in the nav, every link and anchor
resolving (mkdocs.yml's validation settings turn each problem into a warning, strict fails it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_site_builds_strict(tmp_path: Path) -> None:
    result = build(ROOT, tmp_path / "site")

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "targets" / "sagemaker" / "index.html").exists()


def test_a_broken_anchor_or_an_unlisted_page_fails_the_build(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "docs", project / "docs")
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    with (project / "docs" / "testing.md").open("a", encoding="utf-8") as page:
        page.write("\nSee [sizing](sizing.md#no-such-heading).\n")
    (project / "docs" / "orphan.md").write_text("# Orphan\n", encoding="utf-8")

    result = build(project, tmp_path / "site")

    assert result.returncode == 1
    assert "does not contain an anchor '#no-such-heading'" in result.stderr
    assert "orphan.md" in result.stderr
