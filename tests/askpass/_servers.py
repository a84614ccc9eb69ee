"""A real server for the end-to-end test: a git remote that demands credentials.

``git_remote`` serves bare repositories through ``git http-backend`` (CGI) on 127.0.0.1, but
only to requests carrying the expected basic-auth credentials; others get 401 with a
``WWW-Authenticate: Basic`` challenge, which is what makes git run its ``GIT_ASKPASS``.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["GitRemote", "git_remote", "isolated_git_env"]

STOP_TIMEOUT_SECONDS = 30.0
"""Safety net only: the serving thread ends as soon as the server is shut down."""

BACKEND_TIMEOUT_SECONDS = 60.0
"""Safety net for one ``git http-backend`` run on a one-commit repository."""


def isolated_git_env() -> dict[str, str]:
    """Variables that keep git away from the machine's global and system configuration."""
    return {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


@dataclass
class GitRemote:
    """A running credential-protected git remote."""

    base_url: str
    """``http://127.0.0.1:<port>``; repositories are below it, e.g. ``/repo.git``."""

    root: Path
    """The directory holding the served bare repositories."""

    username: str
    password: str
    denied: int = 0
    """Requests answered 401 for missing or wrong credentials."""

    served: list[str] = field(default_factory=list)
    """Paths served to correctly authenticated requests."""

    lock: threading.Lock = field(default_factory=threading.Lock)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, remote: GitRemote) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.remote = remote
        credentials = f"{remote.username}:{remote.password}".encode()
        self.expected_auth = "Basic " + base64.b64encode(credentials).decode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        # The test reads the counters on GitRemote; access lines would only be noise.
        return

    def _serve(self) -> None:
        remote = self.server.remote
        if self.headers.get("Authorization") != self.server.expected_auth:
            with remote.lock:
                remote.denied += 1
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        with remote.lock:
            remote.served.append(path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {
            "PATH": os.environ.get("PATH", ""),
            **isolated_git_env(),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": remote.username,
            "REMOTE_ADDR": "127.0.0.1",
        }
        for header, variable in (
            ("Git-Protocol", "HTTP_GIT_PROTOCOL"),
            ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
        ):
            if header in self.headers:
                env[variable] = self.headers[header]
        done = subprocess.run(
            ["git", "http-backend"],
            input=body,
            capture_output=True,
            env=env,
            timeout=BACKEND_TIMEOUT_SECONDS,
            check=False,
        )
        self._relay_cgi(done.stdout)

    def _relay_cgi(self, output: bytes) -> None:
        separator = b"\r\n\r\n" if b"\r\n\r\n" in output else b"\n\n"
        head, _, payload = output.partition(separator)
        status = 200
        headers: list[tuple[str, str]] = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name.strip(), value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@contextmanager
def git_remote(root: Path, *, username: str, password: str) -> Iterator[GitRemote]:
    """Serve the bare repositories under ``root`` to clients that send these credentials."""
    remote = GitRemote(base_url="", root=root, username=username, password=password)
    server = _Server(root, remote)
    remote.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="git-remote", daemon=True)
    thread.start()
    try:
        yield remote
    finally:
        server.shutdown()
        server.server_close()
        thread.join(STOP_TIMEOUT_SECONDS)
