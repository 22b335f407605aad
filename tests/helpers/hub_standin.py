"""A stand-in for the Hugging Face Hub on 127.0.0.1, for tests (they never use the network).

It serves local folders as model and dataset repos under the endpoints the real
`huggingface_hub` and `datasets` code calls to read them (revision info, the file tree,
paths-info, HEAD and GET of each file), each repo at one fixed commit (its `main`; any other
revision is not found), and takes uploads the way `upload_folder` sends them (create a repo,
preupload, a commit whose files come inline). Point `HF_ENDPOINT` at `StandInHub.url`. Any other
path answers 404, as the Hub does for a repo that is not there; `requests` records every call.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

KINDS = {"models": "model", "datasets": "dataset"}


class StandInHub:
    def __init__(
        self,
        models: dict[str, Path] | None = None,
        datasets: dict[str, Path] | None = None,
        uploads: Path | None = None,
        gated: set[str] | None = None,
    ) -> None:
        self.repos = {("model", k): Path(v) for k, v in (models or {}).items()}
        self.repos |= {("dataset", k): Path(v) for k, v in (datasets or {}).items()}
        self.commits = {
            name: hashlib.sha1(f"{kind}:{name}".encode()).hexdigest() for kind, name in self.repos
        }
        self.uploads = uploads  # where pushed repos are written, one folder per repo id
        self.gated = gated or set()  # their info answers, their files need an accepted licence
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                hub._answer(self, head=False)

            def do_HEAD(self) -> None:
                hub._answer(self, head=True)

            def do_POST(self) -> None:
                hub._post(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> StandInHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _entries(self, key: tuple[str, str], under: str = "", recursive: bool = True) -> list[dict[str, Any]]:
        folder = self.repos[key]
        base = folder / under if under else folder
        if not base.is_dir():
            return []
        paths = sorted(base.rglob("*") if recursive else base.iterdir())
        return [_entry(folder, p) for p in paths if not p.name.startswith(".")]

    def _answer(self, request: BaseHTTPRequestHandler, head: bool) -> None:
        url = urlparse(request.path)
        path = unquote(url.path)
        self.requests.append((request.command, path))
        parts = path.strip("/").split("/")
        info = len(parts) == 4 or (len(parts) >= 5 and parts[4] in ("revision", "tree"))
        if parts[0] == "api" and parts[1:2] and parts[1] in KINDS and info:
            key = (KINDS[parts[1]], "/".join(parts[2:4]))
            if key not in self.repos:
                return _not_found(request, head)
            if len(parts) > 5 and parts[5] not in ("main", self.commits[key[1]]):
                return _no_revision(request, head)
            if len(parts) == 4 or parts[4] == "revision":
                body: Any = {
                    "id": key[1],
                    "sha": self.commits[key[1]],
                    "siblings": [{"rfilename": e["path"]} for e in self._entries(key) if e["type"] == "file"],
                }
            else:  # tree/{revision}[/{path}]
                recursive = parse_qs(url.query).get("recursive", ["false"])[0].lower() == "true"
                body = self._entries(key, "/".join(parts[6:]), recursive)
            return _send(request, 200, json.dumps(body).encode(), {"Content-Type": "application/json"}, head)
        if "resolve" in parts:
            i = parts.index("resolve")
            kind = "dataset" if parts[0] == "datasets" else "model"
            key = (kind, "/".join(parts[1:i] if kind == "dataset" else parts[:i]))
            if key not in self.repos:
                return _not_found(request, head)
            if parts[i + 1] not in ("main", self.commits[key[1]]):
                return _no_revision(request, head)
            if key[1] in self.gated:
                body = b'{"error": "Access to this repo is restricted: you must accept its conditions"}'
                return _send(request, 401, body, {"X-Error-Code": "GatedRepo"}, head)
            file = self.repos[key] / "/".join(parts[i + 2 :])
            if not file.is_file():
                return _send(request, 404, b"", {"X-Error-Code": "EntryNotFound"}, head)
            data = file.read_bytes()
            headers = {"X-Repo-Commit": self.commits[key[1]], "ETag": f'"{_sha1(file)}"'}
            return _send(request, 200, data, headers, head)
        return _send(request, 404, b"", {}, head)

    def _post(self, request: BaseHTTPRequestHandler) -> None:
        path = unquote(urlparse(request.path).path)
        self.requests.append(("POST", path))
        body = request.rfile.read(int(request.headers.get("Content-Length", 0) or 0))
        parts = path.strip("/").split("/")
        json_type = {"Content-Type": "application/json"}
        if parts[:3] == ["api", "repos", "create"]:
            spec = json.loads(body)
            name = (
                f"{spec.get('organization') or 'you'}/{spec['name']}"
                if "/" not in spec["name"]
                else spec["name"]
            )
            self.commits.setdefault(name, hashlib.sha1(name.encode()).hexdigest())
            return _send(request, 200, json.dumps({"url": f"{self.url}/{name}"}).encode(), json_type, False)
        if parts[0] == "api" and len(parts) >= 5 and parts[1] in KINDS and parts[4] == "paths-info":
            key = (KINDS[parts[1]], "/".join(parts[2:4]))
            if key not in self.repos:
                return _not_found(request, False)
            wanted = parse_qs(body.decode()).get("paths", []) if body else []
            if request.headers.get("Content-Type", "").startswith("application/json"):
                wanted = json.loads(body).get("paths", [])
            entries = [e for e in self._entries(key) if e["path"] in set(wanted)]
            return _send(request, 200, json.dumps(entries).encode(), json_type, False)
        if parts[0] == "api" and len(parts) >= 5 and parts[1] in KINDS and parts[4] == "preupload":
            files = json.loads(body).get("files", [])
            answer = {
                "files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
            }
            return _send(request, 200, json.dumps(answer).encode(), json_type, False)
        if parts[0] == "api" and len(parts) >= 5 and parts[1] in KINDS and parts[4] == "commit":
            repo = "/".join(parts[2:4])
            self._commit(repo, body)
            answer = {
                "commitUrl": f"{self.url}/{repo}/commit/{self.commits[repo]}",
                "commitOid": self.commits[repo],
            }
            return _send(request, 200, json.dumps(answer).encode(), json_type, False)
        return _send(request, 404, b"", {}, False)

    def _commit(self, repo: str, body: bytes) -> None:
        """Write the files of an inline (ndjson) commit under `uploads/{repo}`."""
        if self.uploads is None:
            raise RuntimeError("this stand-in takes no uploads: give it an uploads folder")
        target = self.uploads / repo
        for line in body.decode().splitlines():
            item = json.loads(line)
            if item.get("key") == "file":
                file = target / item["value"]["path"]
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_bytes(base64.b64decode(item["value"]["content"]))
        self.repos[("model", repo)] = target


def _entry(folder: Path, p: Path) -> dict[str, Any]:
    rel = str(p.relative_to(folder))
    if p.is_dir():
        return {"type": "directory", "path": rel, "oid": hashlib.sha1(rel.encode()).hexdigest()}
    return {"type": "file", "path": rel, "size": p.stat().st_size, "oid": _sha1(p)}


def _sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _not_found(request: BaseHTTPRequestHandler, head: bool) -> None:
    # the Hub says which: huggingface_hub turns this header into RepositoryNotFoundError
    _send(request, 404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"}, head)


def _no_revision(request: BaseHTTPRequestHandler, head: bool) -> None:
    # each repo has one commit, which `main` names
    _send(request, 404, b'{"error": "Invalid rev id"}', {"X-Error-Code": "RevisionNotFound"}, head)


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
