"""The Host check of a loopback server: a page elsewhere that rebinds its own name to 127.0.0.1
still sends that name as Host, so only loopback names are answered. Unlike starlette's
TrustedHostMiddleware (which cuts the Host at its first colon) this reads IPv6 literals:
`[::1]`, `[::1]:8000` and a bare `::1` are all loopback."""

from __future__ import annotations

import json

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def host_name(header: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    if header.count(":") == 1:  # name:port (a bare IPv6 address has several colons)
        return header.split(":")[0]
    return header


class LoopbackOnly:
    def __init__(self, app, names: tuple[str, ...] = LOOPBACK_HOSTS):
        self.app, self.names = app, names

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        header = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if host_name(header) in self.names:
            return await self.app(scope, receive, send)
        body = json.dumps(
            {"error": "this page only answers to a loopback host name (127.0.0.1, localhost, [::1])"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
