"""`import inferstack` stays light: no cloud SDK, no Pulumi, until a target is used."""

from __future__ import annotations

import json
import subprocess
import sys

CLOUD_SDKS = {"pulumi_aws", "pulumi_azure_native", "pulumi_gcp", "pulumi_kubernetes"}


def loaded_roots(code: str) -> set[str]:
    report = "import json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    probe = f"{code}\n{report}"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_inferstack_loads_no_cloud_sdk_nor_pulumi() -> None:
    roots = loaded_roots("import inferstack")
    assert not roots & CLOUD_SDKS
    assert "pulumi" not in roots


def test_spec_and_sizing_load_no_sdk() -> None:
    roots = loaded_roots("import inferstack.spec, inferstack.sizing, inferstack.catalog")
    assert not roots & (CLOUD_SDKS | {"pulumi"})


def test_lazy_attributes_resolve() -> None:
    roots = loaded_roots(
        "import inferstack\nassert inferstack.DeploymentSpec.__name__ == 'DeploymentSpec'"
    )
    assert not roots & CLOUD_SDKS
