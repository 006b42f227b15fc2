"""The caption server for real: real pipeline, real sockets on 127.0.0.1, real face."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from emocap.cli import build_parser
from emocap.cli import main as emocap_main
from emocap.commands.serve import build_pipeline_factory
from emocap.web.server import CaptionServer
from emocap.web.static_files import StaticFiles

FRAMES_TO_SETTLE = 8  # enough for either smoother to settle on a label


@pytest.fixture(scope="module")
def pipeline_factory():
    # Every frame's faces at once: these tests look at one frame's answer (confirmation is tested below).
    return build_pipeline_factory(build_parser().parse_args(["serve", "--confirm-frames", "1"]))


def test_the_page_captions_a_face_from_its_third_detection_by_default(face_jpeg):
    factory = build_pipeline_factory(build_parser().parse_args(["serve"]))

    async def scenario():
        async with CaptionServer(factory, port=0) as server:
            async with connect(socket_url(server)) as client:
                return [await caption(client, face_jpeg) for _ in range(3)]

    assert [len(answer["faces"]) for answer in asyncio.run(scenario())] == [0, 0, 1]


@pytest.fixture(scope="module")
def face_jpeg() -> bytes:
    """640x480 JPEG with one real face (scikit-image's astronaut) on a grey wall."""
    from skimage import data

    portrait = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 80:560] = cv2.resize(portrait, (480, 480), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return jpeg.tobytes()


def socket_url(server: CaptionServer) -> str:
    return f"ws://127.0.0.1:{server.port}/ws"


def http_get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


async def caption(client, jpeg: bytes) -> dict:
    await client.send(jpeg)
    return json.loads(await client.recv())


def test_page_and_socket_share_one_port(pipeline_factory):
    async def scenario():
        async with CaptionServer(pipeline_factory, port=0) as server:
            page = await asyncio.to_thread(http_get, server.url)
            script = await asyncio.to_thread(http_get, server.url + "app.js")
            missing = await asyncio.to_thread(http_get, server.url + "secrets.txt")
            return page, script, missing

    (status, headers, body), script, missing = asyncio.run(scenario())
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'aria-live="polite"' in body and b"Use my camera" in body
    assert "connect-src 'self'" in headers["Content-Security-Policy"]
    assert script[0] == 200 and b"getUserMedia" in script[2] and b"getDisplayMedia" in script[2]
    assert missing[0] == 404


def test_a_face_is_boxed_and_captioned(pipeline_factory, face_jpeg):
    async def scenario():
        async with CaptionServer(pipeline_factory, port=0) as server:
            async with connect(socket_url(server)) as client:
                return [await caption(client, face_jpeg) for _ in range(FRAMES_TO_SETTLE)]

    answers = asyncio.run(scenario())
    assert [answer["size"] for answer in answers] == [{"width": 640, "height": 480}] * FRAMES_TO_SETTLE
    assert all(len(answer["faces"]) == 1 for answer in answers), [answer["faces"] for answer in answers]
    face = answers[-1]["faces"][0]
    x1, y1, x2, y2 = face["box"]
    assert 200 < (x1 + x2) / 2 < 440 and 60 < (y1 + y2) / 2 < 260, face["box"]
    assert face["score"] >= 0.95
    assert abs(sum(face["probabilities"].values()) - 1) < 0.01
    assert list(face["probabilities"]) == answers[-1]["labels"]
    assert face["label"] in answers[-1]["labels"], "the memory never settled on a label"
    assert face["valence"] in ("negative", "neutral", "positive") and face["colour"].startswith("#")
    assert len({answer["faces"][0]["face"] for answer in answers}) == 1  # one identity throughout
    assert {"decode", "pipeline", "server"} <= set(answers[-1]["timings_ms"])


def test_a_server_on_every_address_serves_its_page_opened_as_localhost(pipeline_factory, face_jpeg):
    """`emocap serve --host 0.0.0.0` closed the socket (1008) for its own page opened as
    http://localhost:PORT or http://127.0.0.1:PORT; a foreign page is still refused (403)."""

    async def scenario():
        async with CaptionServer(pipeline_factory, host="0.0.0.0", port=0) as server:
            answers = []
            for name in ("localhost", "127.0.0.1"):
                async with connect(socket_url(server), origin=f"http://{name}:{server.port}") as client:
                    answers.append(await caption(client, face_jpeg))
            with pytest.raises(InvalidStatus) as refused:
                await connect(socket_url(server), origin=f"http://evil.example:{server.port}")
            return answers, refused.value

    answers, refused = asyncio.run(scenario())
    assert [len(answer["faces"]) for answer in answers] == [1, 1]
    assert refused.response.status_code == 403


BAD_CLIENTS = {
    "text": ({}, lambda jpeg: "hello", 1003, "expected binary image frames"),
    "garbage": ({}, lambda jpeg: b"\x00\x01garbage" * 100, 1003, "not an image (900 bytes"),
    "empty": ({}, lambda jpeg: b"", 1003, "not an image (0 bytes"),
    "oversized": ({}, lambda jpeg: jpeg + bytes(2 * 2**20), 1009, "exceeds limit of 2097152 bytes"),
}


@pytest.mark.parametrize("kind", BAD_CLIENTS)
def test_a_bad_client_is_closed_while_another_keeps_being_served(pipeline_factory, face_jpeg, kind):
    options, bad_message, code, reason = BAD_CLIENTS[kind]

    async def scenario():
        async with CaptionServer(pipeline_factory, port=0) as server:
            async with connect(socket_url(server)) as good:
                before = await caption(good, face_jpeg)
                async with connect(socket_url(server), **options) as bad:
                    with pytest.raises(ConnectionClosedError) as closed:
                        await bad.send(bad_message(face_jpeg))
                        await bad.recv()
                after = await caption(good, face_jpeg)
                return before, closed.value, after

    before, closed, after = asyncio.run(scenario())
    assert closed.rcvd.code == code
    assert reason in closed.rcvd.reason
    assert len(before["faces"]) == 1 and len(after["faces"]) == 1
    assert after["frame"] == before["frame"] + 1  # the good client's pipeline went on undisturbed


def test_a_foreign_origin_is_refused_with_403_before_any_websocket_opens(pipeline_factory, face_jpeg):
    """A 101 then a 1008 close told a foreign page that emocap listens here; a 403 tells it nothing more
    than any closed port would, and the good client goes on."""

    async def scenario():
        async with CaptionServer(pipeline_factory, port=0) as server:
            async with connect(socket_url(server)) as good:
                before = await caption(good, face_jpeg)
                with pytest.raises(InvalidStatus) as refused:
                    await connect(socket_url(server), origin="http://evil.example")
                after = await caption(good, face_jpeg)
                return before, refused.value.response, after

    before, response, after = asyncio.run(scenario())
    assert response.status_code == 403
    assert b"origin http://evil.example may not connect" in response.body
    assert after["frame"] == before["frame"] + 1


def test_head_answers_the_page_headers_without_its_body(pipeline_factory):
    async def scenario():
        async with CaptionServer(pipeline_factory, port=0) as server:
            return await asyncio.to_thread(raw_exchange, server.port, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")

    page = StaticFiles.from_package().files["/"][1]
    head, _, body = asyncio.run(scenario()).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert f"Content-Length: {len(page)}".encode() in head
    assert body == b""


def raw_exchange(port: int, request: bytes) -> bytes:
    """All the server sends for `request` until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_each_connection_has_its_own_faces(pipeline_factory, face_jpeg):
    async def scenario():
        async with CaptionServer(pipeline_factory, port=0) as server:
            async with connect(socket_url(server)) as first, connect(socket_url(server)) as second:
                one = [await caption(first, face_jpeg) for _ in range(3)]
                two = await caption(second, face_jpeg)
                return one, two

    one, two = asyncio.run(scenario())
    # A fresh connection starts its own identities and frame count, not the first one's.
    assert two["faces"][0]["face"] == one[0]["faces"][0]["face"]
    assert two["frame"] == one[0]["frame"]


def test_inference_runs_off_the_event_loop(pipeline_factory, face_jpeg):
    """While one client's frame is in the pipeline, another client's ping is answered at once."""
    frame = cv2.imdecode(np.frombuffer(face_jpeg, np.uint8), cv2.IMREAD_COLOR)
    big = cv2.imencode(".jpg", cv2.resize(frame, (1920, 1440)))[1].tobytes()

    async def scenario():
        async with CaptionServer(pipeline_factory, port=0) as server:
            async with connect(socket_url(server)) as busy, connect(socket_url(server)) as idle:
                await busy.send(big)
                await asyncio.sleep(0.005)  # let the frame reach the pipeline
                started = time.perf_counter()
                await (await idle.ping())
                pong_ms = (time.perf_counter() - started) * 1000
                answer = json.loads(await busy.recv())
                return pong_ms, answer["timings_ms"]["pipeline"]

    pong_ms, pipeline_ms = asyncio.run(scenario())
    assert pipeline_ms > 20, "the frame was too quick to show anything"
    assert pong_ms < pipeline_ms / 2, (pong_ms, pipeline_ms)


def test_serve_refuses_bad_options(capsys):
    with pytest.raises(SystemExit) as exited:
        emocap_main(["serve", "--port", "70000"])
    assert exited.value.code == 2
    assert "expected a whole number in 0..65535 (0 picks a free one), got '70000'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        emocap_main(["serve", "--allow-origin", "example.org"])
    assert "origin 'example.org' is not of the form http://HOST[:PORT]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        emocap_main(["serve", "--host", " "])
    assert "expected a host name or address, got ' '" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        emocap_main(["serve", "--max-connections", "0"])
    assert "argument --max-connections: expected a whole number in 1..1000, got '0'" in capsys.readouterr().err


def test_serve_reports_a_busy_port_in_one_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert emocap_main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"emocap serve: error: cannot listen on 127.0.0.1:{port}: ")
    assert err.count("\n") == 1


@pytest.mark.slow  # starts the server in a process
def test_serve_on_a_network_address_says_which_pages_may_connect_and_how_to_allow_others():
    process = subprocess.Popen(
        [sys.executable, "-m", "emocap", "serve", "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        opened, note = process.stdout.readline(), process.stdout.readline()
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    port = opened.split()[3].rstrip("/").rsplit(":", 1)[1]
    assert "other computers can reach this server" in note
    assert f"http://localhost:{port}" in note and f"http://127.0.0.1:{port}" in note
    assert "--allow-origin http://HOST:PORT" in note


@pytest.mark.slow  # starts the server in a process
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_serve_prints_its_address_serves_the_page_and_stops_on_ctrl_c(stop_signal):
    process = subprocess.Popen(
        [sys.executable, "-m", "emocap", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("emocap serve: open http://127.0.0.1:"), line + process.stderr.read()
        url = line.split()[3]
        status, _, body = http_get(url)
        assert status == 200 and b"emocap" in body
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_connections_beyond_the_cap_are_refused_with_503_during_the_handshake(pipeline_factory, face_jpeg):
    """100 clients that send and never read held about 16 queued 2 MB messages each with no cap on their number."""

    async def scenario():
        async with CaptionServer(pipeline_factory, port=0, max_connections=2) as server:
            async with connect(socket_url(server)) as first, connect(socket_url(server)):
                with pytest.raises(InvalidStatus) as refused:
                    await connect(socket_url(server))
                answer = await caption(first, face_jpeg)
            async with connect(socket_url(server)) as later:  # closed ones free their places
                again = await caption(later, face_jpeg)
            return refused.value.response, answer, again

    response, answer, again = asyncio.run(scenario())
    assert response.status_code == 503
    assert b"already serving 2 connections" in response.body
    assert len(answer["faces"]) == 1 and len(again["faces"]) == 1


def test_a_handshake_with_two_origins_is_refused_in_one_log_line(pipeline_factory, caplog):
    """Refused (a 500) but with a MultipleValuesError traceback in the log on every try."""
    handshake = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                 b"Origin: http://127.0.0.1\r\nOrigin: http://evil.example\r\n\r\n")

    async def scenario():
        async with CaptionServer(pipeline_factory, port=0) as server:
            return await asyncio.to_thread(raw_exchange, server.port, handshake)

    with caplog.at_level("INFO"):
        answer = asyncio.run(scenario())
    assert answer.startswith(b"HTTP/1.1 403 ")
    assert all(record.exc_info is None for record in caplog.records)
    refusals = [record.getMessage() for record in caplog.records if record.levelname != "INFO"]
    assert refusals == ["refused a connection with 2 Origin headers: ['http://127.0.0.1', 'http://evil.example']"]


def test_head_of_the_socket_answers_405_without_a_body(pipeline_factory):
    async def scenario():
        async with CaptionServer(pipeline_factory, port=0) as server:
            return await asyncio.to_thread(raw_exchange, server.port, b"HEAD /ws HTTP/1.1\r\nHost: x\r\n\r\n")

    head, _, body = asyncio.run(scenario()).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 405 ") and b"Allow: GET" in head
    assert body == b""
