"""A local HTTP server on 127.0.0.1 serving fixture bytes, with HTTP Range and switches that make it
misbehave, for tests of genlab's downloads (no other network is touched):
- cut_after: send that many bytes of the body, then drop the connection (once);
- extra: bytes sent after the body (a server that sends more than the file);
- announce: bytes announced in Content-Length beyond what is sent (a server that lies about length);
- trickle: seconds between single bytes (a server that stalls without going silent);
- redirect: {name: location} answered with 308 (a redirect loop when a name points at itself)."""

import contextlib
import http.server
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        name = self.path.rsplit("/", 1)[-1]
        if name in srv.redirect:
            self.send_response(308)
            self.send_header("Location", srv.redirect[name])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = srv.files.get(name)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:] + srv.extra
        self.send_header("Content-Length", str(len(payload) + srv.announce))
        self.end_headers()
        try:
            if srv.cut_after is not None:  # send part of the body, then drop the connection
                self.wfile.write(payload[: srv.cut_after])
                srv.cut_after = None
                self.close_connection = True
                return
            if srv.trickle:
                for i in range(len(payload)):
                    if srv.stopping.wait(srv.trickle):
                        break
                    self.wfile.write(payload[i : i + 1])
                    self.wfile.flush()
                self.close_connection = True
                return
            for i in range(0, len(payload), 1 << 16):  # in pieces, so a client that hangs up stops it
                self.wfile.write(payload[i : i + (1 << 16)])
                srv.sent += min(1 << 16, len(payload) - i)
            if srv.announce:
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
            self.close_connection = True


@contextlib.contextmanager
def serve(files: dict[str, bytes]):
    """Yield the server: .url (base URL), .files (name -> bytes), .requests, .sent (body bytes written),
    and the switches above."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.files, server.requests, server.cut_after = files, [], None
    server.extra, server.announce, server.trickle, server.redirect, server.sent = b"", 0, 0.0, {}, 0
    server.stopping = threading.Event()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
