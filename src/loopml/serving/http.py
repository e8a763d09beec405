"""HTTP plumbing shared by the JSON and v2 endpoints: bodies, JSON answers, the middleware.

The middleware is plain ASGI (no per-request task or body copy, unlike ``BaseHTTPMiddleware``):
it checks the bearer token, and records status code, latency and bytes in and out for
``/metrics``.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from loopml.serving.metrics import ServiceMetrics
from loopml.serving.payloads import PayloadError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"})
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(content, option=_JSON_OPTIONS, default=_default),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_response(error: PayloadError) -> Response:
    return json_response(error.body(), error.status)


def _default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) more than ``limit`` bytes before reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadError(
            413, f"the body is {int(declared)} bytes; the limit is {limit} (max_body_bytes)"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadError(413, f"the body is over the limit of {limit} bytes (max_body_bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


class ServiceMiddleware:
    """Bearer-token check and request metrics around the whole app."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: ServiceMetrics,
        token: str | None,
        endpoints: frozenset[str],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.token = token.encode() if token else None
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        started = time.perf_counter()
        received = 0
        sent = 0
        status = 500

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            nonlocal sent, status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            if self.token is not None and path not in PUBLIC_PATHS and not self._authorized(scope):
                response = json_response(
                    {"error": "missing or wrong bearer token: send 'Authorization: Bearer "
                     "<LOOPML_TOKEN>'"},
                    401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, counting_receive, counting_send)
                return
            await self.app(scope, counting_receive, counting_send)
        finally:
            endpoint = path if path in self.endpoints or path.startswith("/v2/") else "other"
            self.metrics.observe_request(
                endpoint, status, time.perf_counter() - started, received, sent
            )

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                assert self.token is not None
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    credentials.strip(), self.token
                )
        return False
