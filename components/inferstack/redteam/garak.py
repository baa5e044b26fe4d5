"""The garak command line, run config and generator options of one scheduled scan.

One scan = one tier (nightly, weekly) against one target (the gateway, or the model from
inside its network). The files follow garak :data:`GARAK_VERSION`: ``--target_type`` /
``--target_name`` (``--model_type`` is deprecated), the probe selection in the config's
``run.spec`` (``--probes`` is deprecated), reports in ``reporting.report_dir``, an absolute
directory on a volume (a relative one lands under ``~/.local/share/garak``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal

import yaml

from inferstack.deployment.types import RedTeamTarget
from inferstack.redteam.probes import GARAK_VERSION, PROMPT_CAP, Tier

TARGET_TYPE: Final = "openai.OpenAICompatible"
# garak's OpenAICompatible generator reads its key from this variable.
API_KEY_ENV: Final = "OPENAICOMPATIBLE_API_KEY"
REPORT_DIR: Final = "/reports"
CONFIG_DIR: Final = "/etc/garak"
# Where docker/garak/Dockerfile puts runner.py.
RUNNER_PATH: Final = "/opt/inferstack/scan.py"
# Long enough for a refusal or a leak to show; short enough to bound a scan's token spend.
MAX_TOKENS: Final = 512
PARALLEL_ATTEMPTS: Final = 8
# A scan that has not finished by then is stopped: the next one starts on schedule.
DEADLINE_SECONDS: Final[dict[Tier, int]] = {"nightly": 4 * 3600, "weekly": 12 * 3600}
# Where a scan without a ConfigMap (Fargate) finds garak's files: the runner writes them from it.
CONFIG_ENV: Final = "INFERSTACK_GARAK_FILES"
# What garak sends as its key on the clouds: the gateway proxy drops it and authenticates the
# scan's own identity instead (SigV4 or a platform token), so it is no secret.
PROXY_KEY: Final = "not-a-secret-the-gateway-proxy-replaces-it"
# garak's own state goes to writable scratch (the scan's root filesystem is read-only), and it
# downloads no models (its detectors' are in the image).
SCRATCH_ENV: Final[dict[str, str]] = {
    "HOME": "/tmp/garak",
    "XDG_DATA_HOME": "/tmp/garak/data",
    "XDG_CACHE_HOME": "/tmp/garak/cache",
    "XDG_CONFIG_HOME": "/tmp/garak/config",
    "HF_HUB_OFFLINE": "1",
}

__all__ = ["GARAK_VERSION", "Scan"]


PROXY_PORT: Final = 8787
"""Where the runner's gateway proxy listens on 127.0.0.1 (gateway_proxy.PORT)."""


def proxy_uri(port: int = PROXY_PORT) -> str:
    """What garak calls when a gateway proxy runs: its OpenAI base URL."""
    return f"http://127.0.0.1:{port}/v1"


@dataclass(frozen=True)
class GatewayProxy:
    """The runner's local OpenAI-compatible proxy in front of a gateway garak cannot call itself
    (``inferstack/redteam/gateway_proxy.py``): a Lambda function invoked with the task's role, or
    an HTTPS gateway called with a token of the scan's identity (``gcp`` or ``azure``)."""

    lambda_function: str | None = None
    upstream: str | None = None
    token: Literal["gcp", "azure"] | None = None
    audience: str | None = None
    client_id: str | None = None
    port: int = PROXY_PORT

    @classmethod
    def to_lambda(cls, function: str) -> GatewayProxy:
        return cls(lambda_function=function)

    @classmethod
    def bearer(
        cls,
        upstream: str,
        token: Literal["gcp", "azure"],
        audience: str,
        client_id: str | None = None,
    ) -> GatewayProxy:
        return cls(upstream=upstream, token=token, audience=audience, client_id=client_id)

    @property
    def uri(self) -> str:
        """What garak calls: the proxy's OpenAI base URL."""
        return proxy_uri(self.port)

    def runner_options(self) -> list[str]:
        if self.lambda_function is not None:
            options = ["--lambda-function", self.lambda_function]
        else:
            assert self.upstream and self.token and self.audience, "a bearer proxy needs all three"
            options = ["--bearer-upstream", self.upstream, "--bearer-token", self.token]
            options += ["--bearer-audience", self.audience]
            if self.client_id is not None:
                options += ["--bearer-client-id", self.client_id]
        return [*options, "--proxy-port", str(self.port)]


@dataclass(frozen=True)
class Scan:
    """One tier of scans against one target."""

    tier: Tier
    target: RedTeamTarget
    uri: str
    """Base URL of the OpenAI-compatible API, ending in ``/v1``."""
    model: str
    """The model name the target serves (``--target_name``)."""
    probes: tuple[str, ...]
    generations: int = 1
    report_dir: str = REPORT_DIR
    config_dir: str = CONFIG_DIR

    def __post_init__(self) -> None:
        for field, path in (("report_dir", self.report_dir), ("config_dir", self.config_dir)):
            if not path.startswith("/"):
                raise ValueError(f"{field} must be absolute, got {path!r}")
        if not self.probes:
            raise ValueError("a scan needs at least one probe")

    @property
    def name(self) -> str:
        """``<tier>-<target>``: the report prefix, before the run's timestamp."""
        return f"{self.tier}-{self.target}"

    @property
    def config_file(self) -> str:
        return f"{self.config_dir}/{self.name}.yaml"

    @property
    def options_file(self) -> str:
        return f"{self.config_dir}/{self.name}.generator.json"

    def garak_args(self, report_prefix: str | None = None) -> list[str]:
        """Arguments after ``python -m garak``; without ``report_prefix`` the runner adds one."""
        args = [
            "--target_type",
            TARGET_TYPE,
            "--target_name",
            self.model,
            "--generator_option_file",
            self.options_file,
            "--config",
            self.config_file,
        ]
        return [*args, "--report_prefix", report_prefix] if report_prefix else args

    def command(self, report_prefix: str | None = None) -> list[str]:
        """``python -m garak ...`` as run by hand; ``report_prefix`` defaults to :attr:`name`."""
        return ["python", "-m", "garak", *self.garak_args(report_prefix or self.name)]

    def runner_command(
        self,
        retention_days: int,
        *,
        upload_bucket: str | None = None,
        upload_prefix: str = "",
        kms_key_id: str | None = None,
        upload_blob: str | None = None,
        upload_client_id: str | None = None,
        proxy: GatewayProxy | None = None,
        config_from_env: bool = False,
        timeout_seconds: int | None = None,
    ) -> list[str]:
        """The container's command: the image's runner (runner.py) around garak.

        ``proxy``: start the runner's OpenAI-compatible proxy in front of the gateway (``uri``
        is then the proxy's, :attr:`GatewayProxy.uri`). ``upload_blob``: an Azure Blob
        container URL the runner puts reports in (under ``upload_prefix``), with a token of the
        managed identity ``upload_client_id`` (a user-assigned one's client id).
        ``config_from_env``: the runner writes garak's files (:meth:`files`, in
        :data:`CONFIG_ENV`) to ``config_dir`` first.
        """
        options = [
            "--name",
            self.name,
            "--report-dir",
            self.report_dir,
            "--retention-days",
            str(retention_days),
        ]
        if upload_bucket is not None:
            options += ["--upload-bucket", upload_bucket, "--upload-prefix", upload_prefix]
            if kms_key_id is not None:
                options += ["--kms-key-id", kms_key_id]
        if upload_blob is not None:
            if upload_bucket is not None:
                raise ValueError("upload_bucket and upload_blob exclude each other")
            options += ["--upload-blob", upload_blob, "--upload-prefix", upload_prefix]
            if upload_client_id is not None:
                options += ["--upload-client-id", upload_client_id]
        if config_from_env:
            options += ["--config-dir", self.config_dir, "--config-env", CONFIG_ENV]
        if proxy is not None:
            options += proxy.runner_options()
        if timeout_seconds is not None:
            options += ["--timeout-seconds", str(timeout_seconds)]
        return ["python", RUNNER_PATH, *options, "--", "python", "-m", "garak", *self.garak_args()]

    def config(self) -> dict[str, Any]:
        """garak's run config (YAML): probes, generations, prompt cap, report directory."""
        return {
            "system": {
                "lite": True,
                "narrow_output": True,
                "parallel_attempts": PARALLEL_ATTEMPTS,
            },
            "run": {
                "generations": self.generations,
                "soft_probe_prompt_cap": PROMPT_CAP[self.tier],
                "spec": {"include": [f"probes.{p}" for p in self.probes], "exclude": []},
            },
            "plugins": {"extended_detectors": False},
            "reporting": {"report_dir": self.report_dir},
        }

    def generator_options(self) -> dict[str, Any]:
        """Options of the OpenAICompatible generator.

        garak's default ``stop: ["#", ";"]`` cuts answers at the first ``#`` or ``;``
        (Markdown headings, code): no stop sequence is sent at all.
        """
        return {
            "openai": {
                "OpenAICompatible": {
                    "uri": self.uri,
                    "stop": [],
                    "suppressed_params": ["stop"],
                    "max_tokens": MAX_TOKENS,
                }
            }
        }

    def environment(self) -> dict[str, str]:
        """The scan container's environment where no ConfigMap is mounted (the clouds): the key
        garak sends (:data:`PROXY_KEY`, which the gateway proxy replaces), garak's files for the
        runner to write (:data:`CONFIG_ENV`), and the scratch locations."""
        return {
            API_KEY_ENV: PROXY_KEY,
            CONFIG_ENV: json.dumps(self.files(), sort_keys=True),
            **SCRATCH_ENV,
        }

    def files(self) -> dict[str, str]:
        """File name -> content, for a ConfigMap (or an image layer) mounted at config_dir."""
        return {
            self.config_file.rsplit("/", 1)[1]: yaml.safe_dump(self.config(), sort_keys=False),
            self.options_file.rsplit("/", 1)[1]: json.dumps(
                self.generator_options(), indent=2, sort_keys=True
            )
            + "\n",
        }
