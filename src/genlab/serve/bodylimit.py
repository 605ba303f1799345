"""An ASGI middleware that refuses request bodies over a size limit with 413 and a JSON error,
whether the client announced the size (Content-Length) or streams the body in chunks."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException


class BodyTooLarge(HTTPException):
    """Raised while a streamed body is read: an HTTPException, so FastAPI's body parsing passes it on."""

    def __init__(self, message: str):
        super().__init__(413, message)


def _in_mb(n: int) -> str:
    return f"{n / 2**20:g} MB"


class BodyLimit:
    """`uploads` names the paths whose bodies are files: their refusal names the upload limit the
    handler enforces (`upload_bytes`), so a user meets one limit, in MB, whichever check fires."""

    def __init__(self, app, max_bytes: int, uploads: tuple[str, ...] = (), upload_bytes: int = 0):
        self.app, self.max_bytes, self.uploads, self.upload_bytes = app, max_bytes, uploads, upload_bytes

    def message(self, path: str) -> str:
        if path in self.uploads:
            return upload_too_large(self.upload_bytes)
        return f"the request body is over the limit of {_in_mb(self.max_bytes)}"

    async def _refuse(self, send, path: str) -> None:
        body = json.dumps({"error": self.message(path)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        try:
            too_big = declared is not None and int(declared) > self.max_bytes
        except ValueError:
            too_big = True
        if too_big:
            return await self._refuse(send, scope.get("path", ""))
        seen, started = 0, False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.message(scope.get("path", "")))
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, scope.get("path", ""))


def upload_too_large(limit: int) -> str:
    return f"the image file is over the limit of {_in_mb(limit)}; give a smaller one"
