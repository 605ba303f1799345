"""A local HTTP server on 127.0.0.1 serving fixture bytes, with HTTP Range and a switch that cuts
the connection after some bytes, for tests of genlab's downloads (no other network is touched)."""
import contextlib
import http.server
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        body = srv.files.get(self.path.rsplit("/", 1)[-1])
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
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if srv.cut_after is not None:  # send part of the body, then drop the connection
            self.wfile.write(body[start:start + srv.cut_after])
            srv.cut_after = None
            self.close_connection = True
            return
        self.wfile.write(body[start:])


@contextlib.contextmanager
def serve(files: dict[str, bytes]):
    """Yield the server: .url (base URL), .files (name -> bytes), .requests, .cut_after."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files, server.requests, server.cut_after = files, [], None
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
