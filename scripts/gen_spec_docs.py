"""Write docs/spec.md from the DeploymentSpec models."""

from pathlib import Path

from inferstack.deployment.reference import render_reference

if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "docs" / "spec.md"
    target.write_text(render_reference(), encoding="utf-8")
    print(f"wrote {target}")
