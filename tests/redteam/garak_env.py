"""The pinned garak release in its own virtualenv, cached under .cache/ at the repository root.

garak's full dependency set (torch, transformers, litellm...) is large; parsing the command line,
loading a config, resolving probes and scanning an OpenAI-compatible server need only the
packages below, which keep the environment under a minute to build. The versions are the ones
this was first built with; garak itself is installed without dependencies, at
:data:`inferstack.redteam.probes.GARAK_VERSION`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

from inferstack.redteam.probes import GARAK_VERSION

ROOT = Path(__file__).resolve().parents[2]
LEAN_DEPENDENCIES = (
    "PyYAML==6.0.4",
    "xdg-base-dirs==6.0.3",
    "colorama==0.4.6",
    "requests==2.34.2",
    "httpx==0.29.0",
    "aiohttp==3.14.5",
    "numpy==2.4.6",
    "openai==3.63.0",
    "tqdm==4.70.1",
    "backoff==2.2.1",
    "nltk==3.10.4",
    "langdetect==1.0.9",
    "Markdown==3.11.4",
    "jsonschema==4.26.0",
)


@dataclass(frozen=True)
class GarakEnv:
    python: Path
    home: Path

    def run(
        self, args: list[str], cwd: Path, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / "data"),
            "XDG_CACHE_HOME": str(self.home / "cache"),
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "OPENAICOMPATIBLE_API_KEY": "sk-scan",
            "NO_COLOR": "1",
        }
        return subprocess.run(
            [str(self.python), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def plugin_cache(self) -> dict[str, dict[str, object]]:
        out = subprocess.run(
            [
                str(self.python),
                "-c",
                "import garak, pathlib; print(pathlib.Path(garak.__file__).parent)",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        path = Path(out.stdout.strip()) / "resources" / "plugin_cache.json"
        probes: dict[str, dict[str, object]] = json.loads(path.read_text())["probes"]
        return probes


def build(home: Path) -> GarakEnv:
    """Create (once) the cached environment; raise CalledProcessError when pip fails."""
    target = ROOT / ".cache" / f"garak-{GARAK_VERSION}"
    python = target / "bin" / "python"
    ready = target / ".ready"
    if not ready.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(target)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "--no-deps", f"garak=={GARAK_VERSION}"], check=True)
        subprocess.run([*pip, *LEAN_DEPENDENCIES], check=True)
        ready.write_text(sys.version)
    return GarakEnv(python=python, home=home)
