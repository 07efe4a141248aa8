"""A stand-in for a Kubeflow Pipelines API server on 127.0.0.1 (there is none here): it answers the
calls ``kfp.Client`` makes to create a recurring run and records each request for the test to check
against kfp's own API models."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorder:
    def __init__(self):
        self.requests: list[tuple[str, str, dict | None]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self):
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size)) if size else None
                recorder.requests.append((self.command, self.path.split("?")[0], body))
                if self.path.startswith("/apis/v2beta1/experiments") and self.command == "POST":
                    out = {"experiment_id": "exp-1", "display_name": body["display_name"]}
                elif self.path.startswith("/apis/v2beta1/experiments"):
                    out = {"experiments": []}
                elif self.path.startswith("/apis/v2beta1/recurringruns"):
                    out = {**body, "recurring_run_id": "rr-1"}
                else:
                    out = {}
                data = json.dumps(out).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _reply

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
