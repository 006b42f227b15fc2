"""`emocap serve`: a local web page that captions the camera or a shared window live."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Callable

from emocap.commands.arguments import add_command, whole_number
from emocap.commands.options import add_image_limit_option, add_pipeline_options, add_wording_option, build_pipeline
from emocap.errors import EmocapError
from emocap.web.origins import LOOPBACK_NAMES, parse_origin
from emocap.web.server import DEFAULT_MAX_CONNECTIONS

DESCRIPTION = """\
Start a local web server with a page that captions faces live.

Open the printed address in a browser, then choose your camera, or share the
window of a video call to caption the other person. The page sends frames to
this server only; nothing is saved. Only pages served by this server may
connect, unless --allow-origin names another.
"""


def host_name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a host name or address, got {text!r}")
    return text.strip()


def origin(text: str) -> str:
    try:
        return parse_origin(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_parser(subparsers) -> None:
    parser = add_command(
        subparsers, "serve",
        help="a local web page with live captions",
        description=DESCRIPTION,
    )
    parser.add_argument("--host", type=host_name, default="127.0.0.1", help="address to listen on (default: %(default)s, this computer only)")
    parser.add_argument("--port", type=whole_number(0, 65535, note="0 picks a free one"), default=8765, help="port to listen on; 0 picks a free one (default: %(default)s)")
    parser.add_argument(
        "--allow-origin",
        type=origin,
        action="append",
        default=[],
        metavar="ORIGIN",
        help="also accept pages from this origin, e.g. http://192.168.1.5:8765 (repeatable)",
    )
    parser.add_argument(
        "--max-connections", type=whole_number(1, 1000), default=DEFAULT_MAX_CONNECTIONS, metavar="N",
        help="pages served at once; more are refused with HTTP 503, so memory stays bounded "
        "(each holds at most two 2 MB frames; default: %(default)s)",
    )
    add_wording_option(parser)
    add_image_limit_option(parser)
    add_pipeline_options(parser)
    parser.set_defaults(run=run)


def build_pipeline_factory(args: argparse.Namespace) -> Callable:
    """Pipelines that share one detector and classifier but each keep their own faces and memory."""
    shared = build_pipeline(args)
    return shared.fresh


def run(args: argparse.Namespace) -> int:
    from emocap.web.protocol import FrameDecoder
    from emocap.web.server import CaptionServer

    try:
        decoder = FrameDecoder(max_side=args.max_image_side)
    except ValueError as error:
        raise EmocapError(f"--max-image-side: {error}") from None
    server = CaptionServer(
        build_pipeline_factory(args),
        host=args.host,
        port=args.port,
        extra_origins=tuple(args.allow_origin),
        decoder=decoder,
        max_connections=args.max_connections,
        wording=args.wording,
    )
    try:
        asyncio.run(_serve(server))
    except KeyboardInterrupt:  # a Ctrl+C before the loop's own handler is in place
        pass
    print("emocap serve: stopped")
    return 0


async def _serve(server) -> None:
    try:
        await server.start()
    except OSError as error:
        raise EmocapError(f"cannot listen on {server.host}:{server.port}: {error.strerror or error}") from error
    # The loop's own signal handlers, not asyncio.run's plain one: they also wake the loop when the kernel
    # hands the signal to another thread (ONNX Runtime's, the workers'), where a plain handler would wait
    # for the idle main thread's next bytecode, possibly forever.
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    serving = asyncio.ensure_future(server.serve_forever())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        print(f"emocap serve: open {server.url} in a browser (Ctrl+C stops)", flush=True)
        if server.host not in LOOPBACK_NAMES:
            print(
                "emocap serve: note: other computers can reach this server; browsers allow the camera "
                "only on http://localhost pages or over https. Pages opened as "
                f"{', '.join(sorted(server.origins.allowed))} may connect; "
                "--allow-origin http://HOST:PORT admits another",
                flush=True,
            )
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            serving.result()  # the server failed: its error, not a quiet stop
    finally:
        for task in (serving, stopping):
            task.cancel()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
        await server.close()
