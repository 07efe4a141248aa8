"""An HTTP proxy on 127.0.0.1 in front of the S3 server that fails chosen requests, to break a push
half-way: ``fail(n)`` makes the next n object uploads (PUT) answer 503; ``down()`` fails every upload
until ``up()``."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse


class FlakyProxy:
    def __init__(self, target: str):
        self.target = urlparse(target)
        self.to_fail, self.always, self.failed, self.forwarded_puts = 0, False, 0, 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _body(self) -> bytes | None:
                if "chunked" in self.headers.get("Transfer-Encoding", ""):
                    parts = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline().strip():  # trailers
                                pass
                            return b"".join(parts)
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                size = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(size) if size else None

            def _forward(self):
                body = self._body()
                if self.command == "PUT" and proxy._should_fail():
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                conn = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "transfer-encoding"}}
                headers["Host"] = proxy.target.netloc
                conn.request(self.command, self.path, body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                self.send_response(reply.status)
                for key, value in reply.getheaders():
                    if key.lower() not in {"transfer-encoding", "content-length", "connection"}:
                        self.send_header(key, value)
                # a HEAD reply has no body but tells the object's size
                length = reply.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data))
                self.send_header("Content-Length", length)
                self.end_headers()
                self.wfile.write(data)
                conn.close()
                if self.command == "PUT":
                    with proxy.lock:
                        proxy.forwarded_puts += 1

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _should_fail(self) -> bool:
        with self.lock:
            if self.always or self.to_fail > 0:
                self.to_fail = max(0, self.to_fail - 1)
                self.failed += 1
                return True
            return False

    def fail(self, n: int) -> None:
        self.to_fail = n

    def down(self) -> None:
        self.always = True

    def up(self) -> None:
        self.always = False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
