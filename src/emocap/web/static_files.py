"""The page's files, read once from the package and answered from memory."""

from __future__ import annotations

import email.utils
import http
from dataclasses import dataclass
from importlib import resources

from websockets.datastructures import Headers
from websockets.http11 import Response

from emocap.labels import UNSURE_CSS_BACKGROUND, UNSURE_GROUND_HEX, UNSURE_INK_HEX

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

# The page needs nothing from elsewhere: scripts, styles and sockets stay on this server.
SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'self'; connect-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)


LOOK_CSS = f""":root {{
  --unsure-ink: {UNSURE_INK_HEX};
  --unsure-ground: {UNSURE_GROUND_HEX};
  --unsure-background: {UNSURE_CSS_BACKGROUND};
}}
"""
"""/look.css: what "unsure" looks like, from `emocap.labels` (the one definition the overlay, the plot and
the report draw too), as CSS variables that style.css and app.js read."""


@dataclass(frozen=True)
class StaticFiles:
    """URL path -> (content type, bytes) for every file of the page."""

    files: dict[str, tuple[str, bytes]]

    @classmethod
    def from_package(cls, package: str = "emocap.web", folder: str = "static") -> "StaticFiles":
        root = resources.files(package).joinpath(folder)
        if not root.is_dir():
            raise ValueError(f"package folder {package}/{folder} does not exist")
        files = {}
        for entry in root.iterdir():
            suffix = "." + entry.name.rsplit(".", 1)[-1]
            if entry.is_file() and suffix in CONTENT_TYPES:
                files[f"/{entry.name}"] = (CONTENT_TYPES[suffix], entry.read_bytes())
        if "/index.html" not in files:
            raise ValueError(f"package folder {package}/{folder} has no index.html")
        files["/"] = files["/index.html"]
        files["/look.css"] = (CONTENT_TYPES[".css"], LOOK_CSS.encode())
        return cls(files)

    def response(self, path: str, method: str = "GET") -> Response:
        """The file at `path` (query string ignored), or 404; for HEAD, the same headers and no body."""
        found = self.files.get(path.split("?", 1)[0])
        status = http.HTTPStatus.OK if found else http.HTTPStatus.NOT_FOUND
        content_type, body = found or ("text/plain; charset=utf-8", f"no such page: {path}\n".encode())
        headers = Headers(
            [
                ("Date", email.utils.formatdate(usegmt=True)),
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                *SECURITY_HEADERS,
            ]
        )
        return Response(status.value, status.phrase, headers, b"" if method == "HEAD" else body)
