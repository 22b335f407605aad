"""A stand-in for the Hugging Face Hub on 127.0.0.1, for tests (they never use the network).

It serves local folders as model repos under the endpoints `huggingface_hub.snapshot_download`
calls (revision info, the file tree, HEAD and GET of each file), each repo at one fixed commit.
Point `HF_ENDPOINT` at `StandInHub.url`. Any other path answers 404, as the Hub does for a repo
that is not there.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


class StandInHub:
    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = {name: Path(folder) for name, folder in repos.items()}
        self.commits = {name: hashlib.sha1(name.encode()).hexdigest() for name in self.repos}
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                hub._answer(self, head=False)

            def do_HEAD(self) -> None:
                hub._answer(self, head=True)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> StandInHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _files(self, repo: str) -> list[Path]:
        folder = self.repos[repo]
        return sorted(p for p in folder.rglob("*") if p.is_file())

    def _answer(self, request: BaseHTTPRequestHandler, head: bool) -> None:
        path = unquote(urlparse(request.path).path)
        self.requests.append((request.command, path))
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) >= 5 and parts[4] in ("revision", "tree"):
            repo = "/".join(parts[2:4])
            if repo not in self.repos:
                return _send(
                    request,
                    404,
                    b'{"error": "Repository not found"}',
                    {"X-Error-Code": "RepoNotFound"},
                    head,
                )
            folder = self.repos[repo]
            if parts[4] == "revision":
                body = {
                    "id": repo,
                    "sha": self.commits[repo],
                    "siblings": [{"rfilename": str(p.relative_to(folder))} for p in self._files(repo)],
                }
            else:
                body = [
                    {
                        "type": "file",
                        "path": str(p.relative_to(folder)),
                        "size": p.stat().st_size,
                        "oid": _sha1(p),
                    }
                    for p in self._files(repo)
                ]
            return _send(request, 200, json.dumps(body).encode(), {"Content-Type": "application/json"}, head)
        if "resolve" in parts:
            i = parts.index("resolve")
            repo, name = "/".join(parts[:i]), "/".join(parts[i + 2 :])
            if repo not in self.repos:
                return _send(request, 404, b"", {"X-Error-Code": "RepoNotFound"}, head)
            file = self.repos[repo] / name
            if not file.is_file():
                return _send(request, 404, b"", {"X-Error-Code": "EntryNotFound"}, head)
            data = file.read_bytes()
            headers = {"X-Repo-Commit": self.commits[repo], "ETag": f'"{_sha1(file)}"'}
            return _send(request, 200, data, headers, head)
        return _send(request, 404, b"", {}, head)


def _sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _send(
    request: BaseHTTPRequestHandler, code: int, body: bytes, headers: dict[str, str], head: bool
) -> None:
    request.send_response(code)
    for key, value in headers.items():
        request.send_header(key, value)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    if not head:
        request.wfile.write(body)
