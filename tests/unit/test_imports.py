"""`import inferstack` stays light: no cloud SDK, no Pulumi, until a target is used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLOUD_SDKS = {"pulumi_aws", "pulumi_azure_native", "pulumi_gcp", "pulumi_kubernetes"}


def loaded_roots(code: str) -> set[str]:
    report = "import json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    probe = f"{code}\n{report}"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_inferstack_loads_no_cloud_sdk_nor_pulumi() -> None:
    roots = loaded_roots("import inferstack")
    assert not roots & CLOUD_SDKS
    assert "pulumi" not in roots


def test_spec_and_sizing_load_no_sdk() -> None:
    roots = loaded_roots("import inferstack.deployment, inferstack.sizing, inferstack.catalog")
    assert not roots & (CLOUD_SDKS | {"pulumi"})


def test_lazy_attributes_resolve() -> None:
    roots = loaded_roots(
        "import inferstack\nassert inferstack.DeploymentSpec.__name__ == 'DeploymentSpec'"
    )
    assert not roots & CLOUD_SDKS


def test_previewing_an_onprem_stack_loads_only_the_kubernetes_sdk() -> None:
    roots = loaded_roots(
        "from inferstack.preview import run_stack\nrun_stack('stacks/Pulumi.onprem-prod.yaml')"
    )
    assert "pulumi_kubernetes" in roots
    assert not roots & {"pulumi_aws", "pulumi_azure_native", "pulumi_gcp"}


def test_previewing_a_sagemaker_stack_loads_no_other_cloud_sdk() -> None:
    roots = loaded_roots(
        "from inferstack.preview import run_stack\nrun_stack('stacks/Pulumi.sagemaker-dev.yaml')"
    )
    assert "pulumi_aws" in roots
    assert not roots & {"pulumi_kubernetes", "pulumi_azure_native", "pulumi_gcp"}
