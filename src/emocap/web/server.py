"""A local server: the caption page over HTTP and a WebSocket that captions frames.

One port serves both. `GET /` (and the page's script and style) come from
memory; `/ws` is the WebSocket. Each connection gets its own pipeline (its
own face identities and memory) from `pipeline_factory`, so two viewers never
mix faces; the factory is expected to share the heavy, stateless detector
and classifier. Decoding and inference run in a thread pool, so the event
loop keeps answering other clients (and pings) while a frame is processed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Protocol

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from emocap.errors import ModelError
from emocap.labels import DEFAULT_WORDING, check_wording
from emocap.types import FrameResult
from emocap.web.origins import OriginPolicy, parse_origin
from emocap.web.protocol import FrameDecoder, UnsupportedFrame, result_message
from emocap.web.static_files import StaticFiles

SOCKET_PATH = "/ws"
DEFAULT_MAX_MESSAGE_BYTES = 2 * 2**20
"""A 640-pixel JPEG is 30-120 kB; a full-HD screen share at high quality stays under 1 MB."""

DEFAULT_MAX_CONNECTIONS = 8
"""A few viewers on one computer; each may hold up to `_QUEUED_FRAMES` frames of `max_message_bytes`."""
_QUEUED_FRAMES = 2  # answers go in order, so one frame waiting behind the one in the pipeline is enough
_WRITE_LIMIT_BYTES = 64 * 2**10  # a peer that does not read stops being read once this much is unsent

_MAX_CLOSE_REASON_BYTES = 123  # RFC 6455: a close frame's payload is at most 125 bytes

logger = logging.getLogger(__name__)


def _headers_only_for_head(connection: ServerConnection, request: Request, response: Response) -> Response:
    """Every answer to HEAD without its body (HTTP: a HEAD response has none), whoever made it: the
    page's files, our refusals, websockets' own (405 for HEAD /ws)."""
    if request.method != "HEAD" or not response.body:
        return response
    return dataclasses.replace(response, body=b"")


class FramePipeline(Protocol):
    def process(self, frame_bgr: np.ndarray, time_s: float | None = None) -> FrameResult: ...


def close_reason(text: str) -> str:
    """`text` cut to fit a WebSocket close frame (UTF-8 safe)."""
    return text.encode()[:_MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


class CaptionServer:
    """Serves the caption page and answers each binary frame with JSON captions.

    Use as `async with CaptionServer(factory) as server: await server.serve_forever()`.
    `port=0` picks a free port; `server.port` and `server.url` tell which.
    """

    def __init__(
        self,
        pipeline_factory: Callable[[], FramePipeline],
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        extra_origins: tuple[str, ...] = (),
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        workers: int = 2,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        decoder: FrameDecoder = FrameDecoder(),
        static: StaticFiles | None = None,
        wording: str = DEFAULT_WORDING,
    ) -> None:
        if not callable(pipeline_factory):
            raise ValueError(f"pipeline_factory must be callable, got {pipeline_factory!r}")
        if not host:
            raise ValueError(f"host must be a name or address, got {host!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535 (0 picks a free one), got {port!r}")
        if max_message_bytes < 1024:
            raise ValueError(f"max_message_bytes must be at least 1024, got {max_message_bytes!r}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections!r}")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers!r}")
        self._pipeline_factory = pipeline_factory
        self.wording = check_wording(wording)
        self.host = host
        self.port = port
        self._extra_origins = tuple(parse_origin(origin) for origin in extra_origins)
        self._max_message_bytes = max_message_bytes
        self._workers = workers
        self._max_connections = max_connections
        self._decoder = decoder
        self._static = static or StaticFiles.from_package()
        self._server: Server | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._origins: OriginPolicy | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def origins(self) -> OriginPolicy:
        if self._origins is None:
            raise RuntimeError("the server has not started")
        return self._origins

    async def start(self) -> None:
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="emocap-web")
        try:
            self._server = await serve(
                self._handle,
                self.host,
                self.port,
                process_request=self._route,
                process_response=_headers_only_for_head,
                max_size=self._max_message_bytes,
                max_queue=_QUEUED_FRAMES,
                write_limit=_WRITE_LIMIT_BYTES,
                # JPEG does not compress further; deflate would only add latency.
                compression=None,
            )
        except OSError:
            self._executor.shutdown(wait=False)
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        self._origins = OriginPolicy.for_server(self.host, self.port, self._extra_origins)

    async def serve_forever(self) -> None:
        if self._server is None:
            raise RuntimeError("start() the server first")
        await self._server.serve_forever()

    async def close(self) -> None:
        try:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)

    async def __aenter__(self) -> "CaptionServer":
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?", 1)[0] != SOCKET_PATH:
            return self._static.response(request.path, request.method)
        # Refused before the 101, so a foreign page learns no more than from a closed port.
        origins = request.headers.get_all("Origin")
        if len(origins) > 1:  # no browser sends two: a request made to confuse the check, refused as foreign
            logger.warning("refused a connection with %d Origin headers: %r", len(origins), origins)
            return connection.respond(http.HTTPStatus.FORBIDDEN, "one Origin header at most\n")
        origin = origins[0] if origins else None
        if not self.origins.allows(origin):
            logger.warning("refused a connection from origin %r", origin)
            return connection.respond(
                http.HTTPStatus.FORBIDDEN, f"origin {origin} may not connect (see emocap serve --allow-origin)\n"
            )
        if self._server is not None and len(self._server.connections) >= self._max_connections:
            return connection.respond(
                http.HTTPStatus.SERVICE_UNAVAILABLE,
                f"already serving {self._max_connections} connections (see emocap serve --max-connections)\n",
            )
        return None  # go on with the WebSocket handshake

    async def _handle(self, connection: ServerConnection) -> None:
        pipeline = self._pipeline_factory()
        opened = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            async for message in connection:
                received = time.perf_counter()
                if isinstance(message, str):
                    await connection.close(
                        CloseCode.UNSUPPORTED_DATA,
                        "expected binary image frames (JPEG, PNG or WebP), got a text message",
                    )
                    return
                try:
                    answer = await loop.run_in_executor(
                        self._executor, self._caption, pipeline, message, received - opened
                    )
                except UnsupportedFrame as error:
                    await connection.close(CloseCode.UNSUPPORTED_DATA, close_reason(str(error)))
                    return
                except ModelError as error:  # the model's fault, not the page's: said on both sides, in a line
                    logger.error("emocap serve: error: %s", error)
                    await connection.close(CloseCode.INTERNAL_ERROR, close_reason(str(error)))
                    return
                answer["timings_ms"]["server"] = round((time.perf_counter() - received) * 1000, 2)
                await connection.send(json.dumps(answer, separators=(",", ":")))
        except ConnectionClosed as closed:
            # Too-big messages and dropped peers end here; websockets already sent the close code.
            logger.info("connection closed: %s", closed)

    def _caption(self, pipeline: FramePipeline, data: bytes, time_s: float) -> dict:
        started = time.perf_counter()
        frame = self._decoder(data)
        decoded = time.perf_counter()
        result = pipeline.process(frame, time_s=time_s)
        finished = time.perf_counter()
        return result_message(
            result,
            {"decode": (decoded - started) * 1000, "pipeline": (finished - decoded) * 1000},
            wording=self.wording,
        )
