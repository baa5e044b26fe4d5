"""An OpenAI-compatible HTTP API on 127.0.0.1 that forwards to the SageMaker guard gateway.

garak's ``openai.OpenAICompatible`` generator speaks OpenAI HTTP with a bearer key; the
SageMaker gateway is a Lambda function that only IAM principals invoke (SigV4). In the scan
task this shim sits between the two: ``POST /v1/chat/completions`` (or ``/v1/completions``)
is sent to the gateway as a direct invocation with the request body as the event, which is
how the gateway takes direct calls (``inferstack/aws/lambda_gateway/handler.py``), signed
with the task role's credentials. The gateway's answer comes back as it was given: its status
(a guard block stays a ``400`` carrying the blocked message, which garak records as the
model's refusal), its content type and its body. The bearer key garak sends is ignored.

Standard library plus boto3, which garak depends on: docker/garak/Dockerfile copies this
file into the image next to the runner, as /opt/inferstack/lambda_shim.py.

    python /opt/inferstack/lambda_shim.py --function <gateway function name> [--port 8787]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

HOST: Final = "127.0.0.1"
PORT: Final = 8787
PATHS: Final = ("/v1/chat/completions", "/v1/completions")
JSON: Final = "application/json"
# Lambda's limit for a synchronous request payload (6 MB); larger bodies are refused here.
MAX_BODY_BYTES: Final = 6 * 1024 * 1024


def error_body(message: str, code: str) -> str:
    """An OpenAI-style error, the shape the gateway itself answers with."""
    return json.dumps({"error": {"message": message, "type": code, "code": code}})


def forward(client: Any, function: str, body: bytes) -> tuple[int, str, str]:
    """Invoke the gateway with ``body`` as the event: (status, content type, body)."""
    try:
        event = json.loads(body or b"null")
    except ValueError:
        return 400, JSON, error_body("the request body is not JSON", "invalid_request")
    if not isinstance(event, dict):
        return 400, JSON, error_body("the request body is not a JSON object", "invalid_request")
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


def make_server(client: Any, function: str, host: str = HOST, port: int = PORT) -> Any:
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
                self._send(*forward(client, function, self.rfile.read(length)))

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
            sys.stderr.write(f"shim: {format % args}\n")

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lambda_shim.py")
    parser.add_argument("--function", required=True, help="the gateway function's name or ARN")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--region", help="default: the task's AWS_REGION")
    args = parser.parse_args(argv)
    import boto3  # type: ignore[import-not-found,unused-ignore]  # garak depends on it
    from botocore.config import Config  # type: ignore[import-not-found,unused-ignore]

    # Generation takes a while: read timeout as long as the gateway's own (60 s) plus margin.
    config = Config(connect_timeout=5, read_timeout=90, retries={"mode": "standard"})
    client = boto3.client("lambda", region_name=args.region, config=config)
    server = make_server(client, args.function, HOST, args.port)
    print(f"shim: forwarding http://{HOST}:{args.port}/v1 to {args.function}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
