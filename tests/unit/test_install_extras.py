"""Installs sized to the target: each target names its extra, and a missing SDK says what to run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from inferstack import targets

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SDK_DISTRIBUTIONS = {
    "pulumi_kubernetes": "pulumi-kubernetes",
    "pulumi_aws": "pulumi-aws",
    "pulumi_azure_native": "pulumi-azure-native",
    "pulumi_gcp": "pulumi-gcp",
}
WITH_COMPONENT = [t for t in targets.REGISTRY.values() if t.component is not None]


def _names(requirements: list[str]) -> set[str]:
    return {r.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip() for r in requirements}


def test_the_core_installs_no_cloud_sdk_nor_the_hub_client() -> None:
    core = _names(PYPROJECT["dependencies"])
    assert core >= {"pulumi", "pulumi-policy", "pydantic", "pyyaml"}
    assert not core & {*SDK_DISTRIBUTIONS.values(), "huggingface_hub", "google-cloud-aiplatform"}


@pytest.mark.parametrize("target", list(targets.REGISTRY.values()), ids=lambda t: t.name)
def test_each_targets_extra_installs_its_sdk(target: targets.Target) -> None:
    extra = PYPROJECT["optional-dependencies"][target.extra]
    assert {SDK_DISTRIBUTIONS[m] for m in target.sdk_modules} <= _names(extra)


def test_all_and_dev_pull_in_every_targets_extra() -> None:
    extras = PYPROJECT["optional-dependencies"]
    everything = {t.extra for t in targets.REGISTRY.values()} | {"hub"}
    all_ = next(r for r in extras["all"] if r.startswith("inferstack["))
    assert set(all_.removeprefix("inferstack[").removesuffix("]").split(",")) == everything
    assert "inferstack[all]" in extras["dev"]


BLOCKED = """
import sys
for name in {modules!r}:
    sys.modules[name] = None  # as if the extra were not installed: importing it fails
from inferstack import targets
from inferstack.errors import SpecError
try:
    targets.get({target!r}).component_class()
except SpecError as exc:
    print(exc)
"""


@pytest.mark.parametrize("target", WITH_COMPONENT, ids=lambda t: t.name)
def test_a_missing_sdk_is_one_line_naming_the_pip_install(target: targets.Target) -> None:
    code = BLOCKED.format(modules=list(target.sdk_modules), target=target.name)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    line = out.stdout.strip()
    assert line == (
        f"inferstack:target: '{target.name}' needs {target.sdk_modules[0]}, which is not "
        f"installed (run: pip install 'inferstack[{target.extra}]')"
    )


def test_a_missing_sdk_through_the_cli_exits_2_with_that_line(tmp_path: Path) -> None:
    code = (
        "import sys\nsys.modules['pulumi_kubernetes'] = None\n"
        "from inferstack.cli import main\n"
        f"sys.exit(main(['preview', '--config', {str(ROOT / 'stacks/Pulumi.onprem-dev.yaml')!r}]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: inferstack:target: 'onprem' needs pulumi_kubernetes, which is not installed "
        "(run: pip install 'inferstack[kubernetes]')"
    ]


def test_models_lock_without_the_hub_client_names_the_hub_extra(tmp_path: Path) -> None:
    code = (
        "import sys\nsys.modules['huggingface_hub'] = None\n"
        "from inferstack.cli import main\n"
        "sys.exit(main(['models', 'lock', 'org/model', '--output', sys.argv[1]]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "lock.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: models lock reads the Hugging Face Hub with huggingface_hub, which is not "
        "installed (run: pip install 'inferstack[hub]')"
    ]
    assert not (tmp_path / "lock.yaml").exists()
