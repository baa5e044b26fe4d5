"""The gateway Lambda's zip is complete: every module the handler imports is zipped beside it.

The zip is flat (``gateway.CODE_FILES`` side by side), so the handler's siblings are imported as
top-level modules there; a sibling missing from ``CODE_FILES`` would import in the package and
fail only on Lambda. These tests read the imports of every zipped module, and run a request
through ``handler.handler`` from the zipped files alone, without inferstack.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from inferstack.aws import gateway as gw

# What the Lambda runtime's Python provides besides the standard library.
RUNTIME_PACKAGES = {"boto3", "botocore"}


def imported_modules(source: str) -> set[str]:
    """Top-level names a module imports: ``import``, ``from``, relative, ``import_module``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.module is not None:  # ``from x import y``, ``from .x import y``
                names.add(node.module.split(".")[0])
            else:  # ``from . import x, y``
                names.update(alias.name for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value.split(".")[0])
    return names


def test_every_module_the_zipped_code_imports_is_zipped_or_in_the_runtime() -> None:
    zipped = {name.removesuffix(".py") for name in gw.CODE_FILES}
    missing = {
        f"{name}.py imports {module}"
        for name in zipped
        for module in imported_modules((gw.CODE_DIR / f"{name}.py").read_text())
        if module not in zipped
        and module not in RUNTIME_PACKAGES
        and module not in sys.stdlib_module_names
    }
    assert not missing


def test_every_module_beside_the_handler_is_zipped() -> None:
    beside = {path.name for path in gw.CODE_DIR.glob("*.py")} - {"__init__.py"}
    assert set(gw.CODE_FILES) == beside
    assert len(gw.CODE_FILES) == len(beside)
    assert gw.HANDLER == "handler.handler"


def test_a_request_runs_through_the_zipped_files_alone(tmp_path: Path) -> None:
    """``handler.handler`` with stand-in boto3 clients, from a flat copy of ``CODE_FILES``."""
    for name in gw.CODE_FILES:
        (tmp_path / name).write_text((gw.CODE_DIR / name).read_text())
    answer = {"choices": [{"message": {"role": "assistant", "content": "Hello."}}]}
    program = f"""
import importlib, io, json, os, sys, types
sys.modules['inferstack'] = None  # any inferstack import would now fail
sys.path.insert(0, {str(tmp_path)!r})


class Bedrock:
    def apply_guardrail(self, **call):
        return {{"action": "NONE", "outputs": [], "assessments": []}}


class SageMaker:
    def invoke_endpoint(self, **call):
        body = io.BytesIO({json.dumps(answer).encode()!r})
        return {{"Body": body, "ContentType": "application/json"}}


clients = {{"bedrock-runtime": Bedrock(), "sagemaker-runtime": SageMaker()}}
sys.modules['boto3'] = types.SimpleNamespace(client=lambda name, config: clients[name])
sys.modules['botocore'] = types.ModuleType('botocore')
sys.modules['botocore.config'] = types.SimpleNamespace(Config=lambda **options: options)
os.environ.update(
    INFERSTACK_ENDPOINT_NAME='support-bot',
    INFERSTACK_GUARDRAIL_ID='gr-1',
    INFERSTACK_GUARDRAIL_VERSION='1',
)
handler = importlib.import_module('handler')
event = {{"messages": [{{"role": "user", "content": "Hi"}}]}}
print(json.dumps(handler.handler(event, None)))
print(json.dumps(handler.handler({{"inputs": 3}}, None)))
"""
    done = subprocess.run(
        [sys.executable, "-I", "-c", program], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    answered, refused = (json.loads(line) for line in done.stdout.splitlines())
    assert answered["statusCode"] == 200
    assert json.loads(answered["body"]) == answer
    assert refused["statusCode"] == 400
    assert json.loads(refused["body"])["error"]["code"] == "invalid_request"
