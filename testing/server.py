"""Hostile requests against the served app: a workspace whose clips point outside it, and the paths to try."""
from __future__ import annotations

import contextlib
import http.client
import sys
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from engine.io.workspace import Clip, Workspace
from testing.dummies import dummy_workspace

SECRET = "TOP-SECRET-7c1e"
PASSWD = Path("/etc/passwd")


def hostile_workspace(root: Path) -> tuple[Workspace, Path]:
    """The dummy workspace plus clips that point outside it: at /etc/passwd, and a symlink to a secret file."""
    ws = dummy_workspace(root / "ws")
    secret = root / "secret.txt"
    secret.write_text(f"{SECRET}\n")
    link = ws.path("audio") / "link.wav"
    link.symlink_to(secret)
    clips = ws.read_clips() + [Clip("clip-passwd", str(PASSWD)), Clip("clip-link", str(link))]
    ws.write_clips(clips)
    scores = ws.read_scores()
    extra = pd.DataFrame({"id": ["clip-passwd", "clip-link"], "status": "error",
                          "reason": "cannot decode audio (Format not recognised.)"})
    ws.write_scores(pd.concat([scores, extra], ignore_index=True))
    return ws, secret


def get(url: str, path: str, method: str = "GET") -> tuple[int, bytes]:
    """A request with `path` sent exactly as written (no client-side `..` clean-up)."""
    host, port = url.removeprefix("http://").strip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def hostile_paths(url: str, ws: Workspace, secret: Path) -> list[str]:
    from gradio.utils import get_cache_folder

    cache = Path(get_cache_folder()).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    for name, target in [("to-secret.wav", secret), ("to-clip.wav", Path(ws.read_clips()[0].audio_filepath))]:
        with contextlib.suppress(FileExistsError):
            (cache / name).symlink_to(target)
    up = "/..".join([""] * 12)
    files = [secret, PASSWD, Path(ws.read_clips()[0].audio_filepath), ws.path("manifest.jsonl"),
             ws.path("scores.parquet"), ws.path("audio") / "link.wav"]
    paths = []
    for file in files:
        paths += [f"/gradio_api/file={file}", f"/gradio_api/file={quote(str(file))}", f"/gradio_api/file/{file}",
                  f"/file={file}", f"/file/{file}", f"/gradio_api/file={cache}{up}{file}",
                  f"/gradio_api/file={cache}{quote(up + str(file), safe='')}", f"/gradio_api/file=file://{file}",
                  f"/static{up}{file}", f"/static/{quote(up[1:] + str(file), safe='')}",
                  f"/assets/{quote(up[1:] + str(file), safe='')}", f"/gradio_api/proxy={url}gradio_api/file={file}",
                  f"/gradio_api/file={url}gradio_api/file={file}"]
    return paths + [f"/gradio_api/file={cache}/to-secret.wav", f"/gradio_api/file={cache}/to-clip.wav",
                    f"/gradio_api/file={ws.root}", "/gradio_api/file=/proc/self/environ"]


def serve_command(ws: Workspace, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "whisper_curator", "serve", str(ws.root), "--port", str(port), *extra]
