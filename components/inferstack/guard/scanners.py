"""The LLM Guard API's ``scanners.yml``, from the checks ``security.guard`` asks for.

The file follows the API's own config model (``llm_guard_api/app/config.py``: app, auth,
rate_limit, metrics, input_scanners, output_scanners; ``${VAR:default}`` read from the
environment). Models load when the API starts (``lazy_load: false``): the first request never
waits for a download, and the pod is ready only once every scanner is.
"""

from __future__ import annotations

from typing import Any, Final

from inferstack.guard.resolve import ResolvedGuard

SCANNERS_FILE: Final = "scanners.yml"
# Where the image's entrypoint reads it (the API loads config only under its app directory).
CONFIG_DIR: Final = "/home/user/app/config"
# Credentials and keys a response must never carry (LLM Guard's output side has no Secrets
# scanner; its Regex scanner blocks these).
SECRET_PATTERNS: Final = (
    r"AKIA[0-9A-Z]{16}",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    r"(?i)bearer [a-z0-9._~+/-]{20,}",
    r"gh[pousr]_[A-Za-z0-9]{36}",
    r"xox[baprs]-[A-Za-z0-9-]{10,}",
)

Scanner = dict[str, Any]


def _scanner(kind: str, **params: Any) -> Scanner:
    return {"type": kind, "params": params}


def input_scanners(guard: ResolvedGuard) -> list[Scanner]:
    """Cheap checks first: with scan_fail_fast the first failure ends the scan."""
    checks = guard.spec.checks
    found: list[Scanner] = []
    if guard.screens("max_input_tokens"):
        found.append(
            _scanner("TokenLimit", limit=checks.max_input_tokens, encoding_name="cl100k_base")
        )
    if guard.screens("prompt_injection"):
        # Zero-width and tag characters hide instructions from people, not from models.
        found.append(_scanner("InvisibleText"))
    if guard.screens("secrets"):
        found.append(_scanner("Secrets", redact_mode="all"))
    if guard.screens("prompt_injection"):
        found.append(
            _scanner(
                "PromptInjection",
                threshold=0.92,
                match_type="truncate_head_tail",
                model_max_length=512,
            )
        )
    if guard.screens("denied_topics"):
        found.append(_scanner("BanTopics", topics=list(checks.denied_topics), threshold=0.75))
    if guard.screens("pii"):
        # Anonymize both finds (block) and replaces (anonymize) personal data.
        found.append(_scanner("Anonymize", use_faker=False, threshold=0.75, language="en"))
    return found


def output_scanners(guard: ResolvedGuard) -> list[Scanner]:
    if not guard.screens_output:
        return []
    checks = guard.spec.checks
    found: list[Scanner] = []
    if guard.screens("secrets"):
        found.append(
            _scanner(
                "Regex",
                patterns=list(SECRET_PATTERNS),
                is_blocked=True,
                match_type="search",
                redact=False,
            )
        )
    if guard.screens("denied_topics"):
        found.append(_scanner("BanTopics", topics=list(checks.denied_topics), threshold=0.75))
    if guard.screens("pii"):
        found.append(_scanner("Sensitive", redact=checks.pii == "anonymize", threshold=0.75))
    return found


def scanners_config(guard: ResolvedGuard) -> dict[str, Any]:
    """The whole ``scanners.yml``: bearer auth from ``AUTH_TOKEN``, models loaded at start."""
    return {
        "app": {
            "name": "LLM Guard API",
            "log_level": "INFO",
            "log_json": True,
            "scan_fail_fast": True,
            "scan_prompt_timeout": 30,
            "scan_output_timeout": 30,
            "lazy_load": False,
        },
        # The gateway is the only client (a NetworkPolicy says so); it limits callers itself.
        "rate_limit": {"enabled": False, "limit": "100/minute"},
        "auth": {"type": "http_bearer", "token": "${AUTH_TOKEN:}"},
        "metrics": {"exporter": "prometheus"},
        "input_scanners": input_scanners(guard) if guard.screens_input else [],
        "output_scanners": output_scanners(guard),
    }
