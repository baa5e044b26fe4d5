"""An OpenAI-compatible HTTP API on 127.0.0.1 in front of a guard gateway garak cannot call.

garak's ``openai.OpenAICompatible`` generator speaks OpenAI HTTP with a fixed bearer key. The
cloud gateways want more than that, so in the scan container this proxy sits between the two
and forwards ``POST /v1/chat/completions`` and ``/v1/completions``:

- ``lambda``: the SageMaker gateway is a Lambda function only IAM principals invoke (SigV4).
  The body goes to the function as a direct invocation (its event), which is how the gateway
  takes direct calls (``inferstack/aws/lambda_gateway/handler.py``), signed with the task
  role's credentials; its ``statusCode``, content type and body come back as they were given.
- ``bearer``: the Vertex AI gateway (Cloud Run, IAM invoker) and the Azure ML gateway (API
  Management, ``validate-azure-ad-token``) take a short-lived token of the scan's own identity.
  The request goes to ``--upstream`` + the path after ``/v1``, with ``Authorization: Bearer``
  a token fetched from the platform's metadata service and refreshed before it expires: an
  ID token for ``--audience`` from the GCE metadata server (``--token gcp``), or an access
  token for ``--audience`` from the Container Apps identity endpoint (``--token azure``,
  ``--client-id`` for a user-assigned identity). A scan outlives a token's hour.

Either way a guard block stays what the gateway answered (a ``400`` carrying the blocked
message, which garak records as the model's refusal), and the bearer key garak sends is
dropped. Standard library, plus boto3 (which garak depends on) for ``lambda``:
docker/garak/Dockerfile copies this file into the image next to the runner, as
/opt/inferstack/gateway_proxy.py.

    python /opt/inferstack/gateway_proxy.py [--port 8787] lambda --function <gateway name>
    python /opt/inferstack/gateway_proxy.py [--port 8787] bearer --upstream https://gw/v1 \
        --token gcp|azure --audience <audience> [--client-id <id>]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

HOST: Final = "127.0.0.1"
PORT: Final = 8787
PATHS: Final = ("/v1/chat/completions", "/v1/completions")
JSON: Final = "application/json"
# Lambda's limit for a synchronous request payload (6 MB); larger bodies are refused here.
MAX_BODY_BYTES: Final = 6 * 1024 * 1024
TOKENS: Final = ("gcp", "azure")
GCP_METADATA: Final = "http://metadata.google.internal/computeMetadata/v1"
# An answer takes a while: longer than the gateways' own model timeouts.
UPSTREAM_TIMEOUT_SECONDS: Final = 300


def error_body(message: str, code: str) -> str:
    """An OpenAI-style error, the shape the gateway itself answers with."""
    return json.dumps({"error": {"message": message, "type": code, "code": code}})


Answer = tuple[int, str, str]
"""(status, content type, body) of what goes back to garak."""
Forward = Callable[[str, bytes], Answer]
"""Forward one request: (path under /v1, body) -> answer."""


def _json_object(body: bytes) -> tuple[dict[str, Any] | None, Answer | None]:
    try:
        event = json.loads(body or b"null")
    except ValueError:
        return None, (400, JSON, error_body("the request body is not JSON", "invalid_request"))
    if not isinstance(event, dict):
        message = "the request body is not a JSON object"
        return None, (400, JSON, error_body(message, "invalid_request"))
    return event, None


def forward(client: Any, function: str, body: bytes) -> Answer:
    """Invoke the gateway function with ``body`` as the event."""
    event, refused = _json_object(body)
    if event is None:
        assert refused is not None
        return refused
    try:
        response = client.invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode("utf-8"),
        )
    except Exception as failure:  # the Lambda API refused the call (throttled, denied, ...)
        status = _status(failure)
        if status == 429:
            return 429, JSON, error_body("the gateway is throttled", "rate_limited")
        name = type(failure).__name__
        return 502, JSON, error_body(f"the gateway could not be invoked ({name})", "bad_gateway")
    payload = response["Payload"].read().decode("utf-8")
    if response.get("FunctionError"):
        return 502, JSON, error_body("the gateway failed", "gateway_error")
    try:
        result = json.loads(payload)
        status = int(result["statusCode"])
        headers = result.get("headers") or {}
        answer = result.get("body") or ""
    except (ValueError, KeyError, TypeError):
        return 502, JSON, error_body("the gateway answered in an unknown shape", "gateway_error")
    content_type = str(headers.get("Content-Type") or headers.get("content-type") or JSON)
    return status, content_type, answer if isinstance(answer, str) else json.dumps(answer)


def _status(failure: Exception) -> int:
    response = getattr(failure, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int):
            return status
    return 500


def lambda_forward(client: Any, function: str) -> Forward:
    """Every path goes to the one function: the gateway reads the route from the body."""
    return lambda _path, body: forward(client, function, body)


class TokenSource:
    """A platform token for ``audience``, fetched when missing or within 5 minutes of expiry."""

    MARGIN_SECONDS: Final = 300

    def __init__(self, fetch: Callable[[], tuple[str, float]]) -> None:
        self._fetch = fetch
        self._token = ""
        self._expires = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            if time.time() >= self._expires - self.MARGIN_SECONDS:
                self._token, self._expires = self._fetch()
            return self._token


def _get(url: str, headers: dict[str, str]) -> bytes:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        data: bytes = response.read()
        return data


def jwt_expiry(token: str) -> float:
    """The ``exp`` claim of a JWT (the token is not verified: it is our own, to send on)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return float(claims["exp"])


def gcp_identity_token(audience: str, get: Callable[..., bytes] = _get) -> TokenSource:
    """An ID token of the job's service account from the metadata server (Cloud Run jobs)."""
    query = urllib.parse.urlencode({"audience": audience, "format": "full"})
    url = f"{GCP_METADATA}/instance/service-accounts/default/identity?{query}"

    def fetch() -> tuple[str, float]:
        token = get(url, {"Metadata-Flavor": "Google"}).decode("ascii").strip()
        return token, jwt_expiry(token)

    return TokenSource(fetch)


def azure_access_token(
    audience: str,
    client_id: str | None = None,
    environ: dict[str, str] | None = None,
    get: Callable[..., bytes] = _get,
) -> TokenSource:
    """An access token of the job's managed identity from the Container Apps identity endpoint
    (``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``, API version 2019-08-01)."""
    env = os.environ if environ is None else environ
    params = {"resource": audience, "api-version": "2019-08-01"}
    if client_id:
        params["client_id"] = client_id

    def fetch() -> tuple[str, float]:
        url = f"{env['IDENTITY_ENDPOINT']}?{urllib.parse.urlencode(params)}"
        answer = json.loads(get(url, {"X-IDENTITY-HEADER": env["IDENTITY_HEADER"]}))
        return str(answer["access_token"]), float(answer["expires_on"])

    return TokenSource(fetch)


def bearer_forward(
    upstream: str, tokens: TokenSource, open_url: Callable[..., Any] = urllib.request.urlopen
) -> Forward:
    """POST to ``upstream`` + the path after ``/v1`` with a fresh token of the scan's identity."""
    base = upstream.rstrip("/")

    def send(path: str, body: bytes) -> Answer:
        event, refused = _json_object(body)
        if event is None:
            assert refused is not None
            return refused
        try:
            token = tokens.token()
        except Exception as failure:  # the metadata service did not give a token
            name = type(failure).__name__
            return 502, JSON, error_body(f"no token for the gateway ({name})", "bad_gateway")
        request = urllib.request.Request(
            base + path.removeprefix("/v1"),
            data=json.dumps(event).encode("utf-8"),
            method="POST",
            headers={"Content-Type": JSON, "Authorization": f"Bearer {token}"},
        )
        try:
            with open_url(request, timeout=UPSTREAM_TIMEOUT_SECONDS) as response:
                kind = response.headers.get("Content-Type") or JSON
                return response.status, kind, response.read().decode("utf-8")
        except urllib.error.HTTPError as answer:  # the gateway's own refusal: pass it on
            kind = answer.headers.get("Content-Type") or JSON
            return answer.code, kind, answer.read().decode("utf-8")
        except OSError as failure:
            name = type(failure).__name__
            return (
                502,
                JSON,
                error_body(f"the gateway could not be reached ({name})", "bad_gateway"),
            )

    return send


def make_server(send: Forward, host: str = HOST, port: int = PORT) -> Any:
    """A threading HTTP server forwarding the two OpenAI paths (port 0 picks a free one)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            length = int(self.headers.get("Content-Length") or 0)
            if path not in PATHS:
                self.rfile.read(length)
                self._send(404, JSON, error_body(f"no route {path}", "not_found"))
            elif length > MAX_BODY_BYTES:
                self.rfile.read(length)
                self._send(413, JSON, error_body("the request body is too large", "too_large"))
            else:
                self._send(*send(path, self.rfile.read(length)))

        def do_GET(self) -> None:
            self._send(404, JSON, error_body("only POST is served", "not_found"))

        def _send(self, status: int, content_type: str, body: str) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            # Paths and statuses only: prompts and answers never reach the task's logs.
            sys.stderr.write(f"proxy: {format % args}\n")

    return ThreadingHTTPServer((host, port), Handler)


def _lambda_client(region: str | None) -> Any:
    import boto3  # type: ignore[import-not-found,unused-ignore]  # garak depends on it
    from botocore.config import Config  # type: ignore[import-not-found,unused-ignore]

    # Generation takes a while: read timeout as long as the gateway's own (60 s) plus margin.
    config = Config(connect_timeout=5, read_timeout=90, retries={"mode": "standard"})
    return boto3.client("lambda", region_name=region, config=config)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway_proxy.py")
    parser.add_argument("--port", type=int, default=PORT, help="port on 127.0.0.1")
    modes = parser.add_subparsers(dest="mode", required=True)
    lam = modes.add_parser("lambda", help="invoke the SageMaker gateway function (SigV4)")
    lam.add_argument("--function", required=True, help="the gateway function's name or ARN")
    lam.add_argument("--region", help="default: the task's AWS_REGION")
    bearer = modes.add_parser("bearer", help="POST to an HTTPS gateway with a platform token")
    bearer.add_argument("--upstream", required=True, help="the gateway's base URL, ending /v1")
    bearer.add_argument("--token", required=True, choices=TOKENS, help="where tokens come from")
    bearer.add_argument("--audience", required=True, help="the token's audience (resource)")
    bearer.add_argument("--client-id", help="azure: the user-assigned identity's client id")
    return parser


def forwarder(args: argparse.Namespace) -> tuple[Forward, str]:
    """What ``args`` asks for, and where it goes (for the start line)."""
    if args.mode == "lambda":
        return lambda_forward(_lambda_client(args.region), args.function), args.function
    if args.token == "gcp":
        tokens = gcp_identity_token(args.audience)
    else:
        tokens = azure_access_token(args.audience, args.client_id)
    return bearer_forward(args.upstream, tokens), args.upstream


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    send, target = forwarder(args)
    server = make_server(send, HOST, args.port)
    print(f"proxy: forwarding http://{HOST}:{args.port}/v1 to {target}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
