"""What only the browser tests need beside the DevTools driver (emocap_testkit.chromium, which
benchmarks/web_latency.py shares): a skip mark, screenshots kept for people, and a media server.

Plain helpers (imported like `frame_fixtures`: pytest puts tests/ on sys.path). Tests that use
Chromium mark themselves with `requires_chromium`, which skips them only when Chromium is not
installed (scripts/install-test-tools.sh installs it).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import shutil
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from emocap_testkit.chromium import CHROMIUM

ARTIFACTS_VARIABLE = "EMOCAP_ARTIFACTS"
"""Names a folder where tests also copy what they save for people to look at (screenshots)."""

requires_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason="Chromium is not installed (run scripts/install-test-tools.sh)",
)


def save_artifact(path: Path, data: bytes) -> None:
    """Write `data` to `path`, and copy it into $EMOCAP_ARTIFACTS when that names a folder."""
    path.write_bytes(data)
    artifacts = os.environ.get(ARTIFACTS_VARIABLE)
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / path.name)


class MediaHandler(SimpleHTTPRequestHandler):
    """Static files with the media types players insist on, byte ranges, and no request log on stderr.

    Byte ranges matter: Chromium seeks only in media whose server answers `Range` requests
    with 206 (http.server's handler ignores them, and a seek then lands at 0).
    """

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".vtt": "text/vtt",
        ".webm": "video/webm",
        ".mp4": "video/mp4",
        ".html": "text/html",
    }

    def send_head(self):
        path = Path(self.translate_path(self.path))
        wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if wanted is None or wanted.groups() == ("", "") or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, last = wanted.groups()
        start, end = (max(0, size - int(last)), size - 1) if not first else (int(first), min(size - 1, int(last or size)))
        if start > end:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        with path.open("rb") as stream:
            stream.seek(start)
            body = stream.read(end - start + 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def log_message(self, format, *args) -> None:
        pass


@contextlib.contextmanager
def served(folder: Path) -> Iterator[str]:
    """`folder` over http on 127.0.0.1 (a free port, byte ranges answered, so videos seek), in a
    thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(MediaHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
