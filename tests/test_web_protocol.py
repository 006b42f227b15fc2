"""The caption socket's message formats, origin policy and argument checks (no server started)."""

from __future__ import annotations

import io
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from emocap.errors import DataError
from emocap.labels import FER2013_LABELS, UNSURE_CSS_BACKGROUND
from emocap.types import NO_LABEL, Faces, FrameResult
from emocap.web.origins import OriginPolicy, parse_origin
from emocap.outputs.records import frame_record
from emocap.web.protocol import FrameDecoder, UnsupportedFrame, result_message
from emocap.web.server import CaptionServer, close_reason
from emocap.web.static_files import StaticFiles


def encoded(frame: np.ndarray, extension: str) -> bytes:
    ok, data = cv2.imencode(extension, frame)
    assert ok
    return data.tobytes()


@pytest.fixture
def frame() -> np.ndarray:
    rows = np.arange(48, dtype=np.uint8)[:, None, None]
    return np.broadcast_to(rows * 5, (48, 64, 3)).copy()


@pytest.mark.parametrize("extension", [".jpg", ".png", ".webp"])
def test_decoder_reads_the_formats_canvas_can_make(frame, extension):
    decoded = FrameDecoder()(encoded(frame, extension))
    assert decoded.shape == (48, 64, 3) and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - frame).mean() < 3


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "not an image (0 bytes"),
        (b"hello, this is not a picture", "not an image (28 bytes starting b'hello, t'"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "not an image"),
    ],
)
def test_decoder_refuses_garbage_with_a_message(data, message):
    with pytest.raises(UnsupportedFrame, match=message.replace("(", r"\(")):
        FrameDecoder()(data)


def test_unsupported_frame_is_a_data_error():
    assert issubclass(UnsupportedFrame, DataError)


def test_decoder_refuses_other_image_formats(frame):
    gif = io.BytesIO()
    Image.fromarray(frame).save(gif, format="GIF")
    with pytest.raises(UnsupportedFrame, match="image format 'GIF' is not one of JPEG, PNG, WEBP"):
        FrameDecoder()(gif.getvalue())


def jpeg_claiming_size(frame: np.ndarray, width: int, height: int) -> bytes:
    """A small JPEG whose header (SOF0) claims another size: a decompression bomb."""
    data = bytearray(encoded(frame, ".jpg"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def test_decoder_refuses_a_huge_image_before_decoding_it(frame):
    with pytest.raises(UnsupportedFrame, match="image of 5000x4000 pixels is larger than 4096 per side"):
        FrameDecoder()(jpeg_claiming_size(frame, 5000, 4000))
    with pytest.raises(UnsupportedFrame, match="image of 30000x30000 pixels is larger than 4096 per side"):
        FrameDecoder()(jpeg_claiming_size(frame, 30000, 30000))
    assert FrameDecoder(max_side=64)(jpeg_claiming_size(frame, 64, 48)).shape == (48, 64, 3)


def test_decoder_refuses_a_truncated_image(frame):
    data = encoded(frame, ".png")
    with pytest.raises(UnsupportedFrame, match="could not be decoded"):
        FrameDecoder()(data[: len(data) // 2])


@pytest.mark.parametrize("max_side", [0, 15, 65536])
def test_decoder_checks_max_side(max_side):
    with pytest.raises(ValueError, match=f"FrameDecoder.max_side must be in 16..65535, got {max_side}"):
        FrameDecoder(max_side=max_side)


def frame_result(faces: Faces) -> FrameResult:
    return FrameResult(
        index=7, time_s=1.23456, frame_size=(640, 480), faces=faces, labels=FER2013_LABELS,
        timings_ms={"detect": 12.3456},
    )


def test_result_message_names_labels_valences_and_colours():
    probs = np.eye(7, dtype=np.float32)[[3, 5, 4]]
    faces = Faces(
        boxes=[[400, 10, 500, 130], [200, 20, 300, 140], [10, 30, 90, 120]],
        scores=[0.99, 0.98, 0.97],
        track_ids=[4, 2, 9],
        probs=probs,
        display=[3, 5, NO_LABEL],
        runner_up=[6, NO_LABEL, NO_LABEL],
    )
    result = frame_result(faces)
    message = result_message(result, {"decode": 1.0})
    assert message["type"] == "result"
    assert message["size"] == {"width": 640, "height": 480}
    assert message["labels"] == list(FER2013_LABELS)
    assert message["timings_ms"] == {"detect": 12.35, "decode": 1.0}
    # Everything else is the JSON Lines record of the frame, field for field.
    assert {k: v for k, v in message.items() if k not in ("type", "size", "labels", "timings_ms")} == frame_record(result)
    assert message["frame"] == 7 and message["time"] == 1.23456
    happy, sad, pending = message["faces"]
    assert {k: happy[k] for k in ("face", "box", "score", "label", "runner_up", "valence", "colour", "caption")} == {
        "face": 5, "box": [400.0, 10.0, 500.0, 130.0], "score": 0.99, "label": "happy", "runner_up": "surprise",
        "valence": "positive", "colour": "#0072B2", "caption": "Face 5 (right): looks happy / surprise — positive",
    }
    assert happy["emotion_words"] == "looks happy / surprise"  # what the page shows large
    assert happy["probabilities"] == dict(zip(FER2013_LABELS, [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]))
    assert (sad["label"], sad["valence"], sad["colour"], sad["runner_up"]) == ("sad", "negative", "#D55E00", None)
    # A face whose memory has not settled yet has no label, valence or colour.
    assert (pending["label"], pending["valence"], pending["colour"]) == (None, None, None)
    # Numbered as the subtitles number them (track id + 1), in the pipeline's reading order.
    assert [face["face"] for face in message["faces"]] == [5, 3, 10]


def test_result_message_in_plain_words_keeps_the_class_names():
    faces = Faces(boxes=[[400, 10, 500, 130]], scores=[0.99], track_ids=[0], probs=np.eye(7, dtype=np.float32)[[5]],
                  display=[5], runner_up=[2])
    (face,) = result_message(frame_result(faces), {}, wording="plain")["faces"]
    assert (face["label"], face["runner_up"]) == ("sad", "fear")
    assert (face["caption"], face["emotion_words"]) == ("Face 1 (right): sad / fear — negative", "sad / fear")


def test_result_message_without_faces():
    message = result_message(frame_result(Faces.empty(7)), {})
    assert message["faces"] == []


def test_own_origins_cover_every_loopback_name():
    policy = OriginPolicy.for_server("127.0.0.1", 8765)
    assert policy.allowed == {"http://127.0.0.1:8765", "http://localhost:8765", "http://[::1]:8765"}
    assert policy.allows("http://localhost:8765")
    assert not policy.allows("http://localhost:8766")
    assert not policy.allows("http://evil.example")
    assert not policy.allows("null")  # sandboxed frames and file:// pages
    assert policy.allows(None)  # not a browser


def test_extra_origins_are_added_and_other_hosts_are_pinned():
    policy = OriginPolicy.for_server("192.168.1.5", 9000, ("https://Example.org",))
    loopback = {"http://127.0.0.1:9000", "http://localhost:9000", "http://[::1]:9000"}
    assert policy.allowed == {"http://192.168.1.5:9000", "https://example.org"} | loopback
    assert policy.allows("https://example.org")
    assert not policy.allows("http://192.168.1.6:9000")


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_server_on_every_address_accepts_its_page_under_each_of_its_names(host):
    """Before, a server started with --host 0.0.0.0 accepted only pages opened as http://0.0.0.0:PORT."""
    import socket

    policy = OriginPolicy.for_server(host, 8765)
    for name in ("localhost", "127.0.0.1", "[::1]", socket.gethostname().lower()):
        assert policy.allows(f"http://{name}:8765"), name
    lan_addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    for address in lan_addresses:
        assert policy.allows(f"http://{address}:8765"), address
    assert not policy.allows("http://evil.example:8765")
    assert not policy.allows("http://localhost:8766")


@pytest.mark.parametrize("text", ["example.org", "http://example.org/", "ftp://example.org", "http://a b", "*"])
def test_parse_origin_refuses_what_is_not_an_origin(text):
    with pytest.raises(ValueError, match=re.escape(f"origin {text!r} is not of the form")):
        parse_origin(text)


@pytest.mark.parametrize("port", [0, 65536])
def test_origin_policy_checks_port(port):
    with pytest.raises(ValueError, match=f"port must be in 1..65535, got {port}"):
        OriginPolicy.for_server("127.0.0.1", port)


def test_close_reason_fits_a_close_frame():
    assert close_reason("short") == "short"
    cut = close_reason("é" * 100)
    assert len(cut.encode()) <= 123 and cut == "é" * 61


def unused_factory():
    raise AssertionError("no pipeline is made when construction fails")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pipeline_factory": None}, "pipeline_factory must be callable, got None"),
        ({"host": ""}, "host must be a name or address, got ''"),
        ({"port": -1}, r"port must be in 0..65535 \(0 picks a free one\), got -1"),
        ({"port": 70000}, r"port must be in 0..65535 \(0 picks a free one\), got 70000"),
        ({"max_message_bytes": 100}, "max_message_bytes must be at least 1024, got 100"),
        ({"workers": 0}, "workers must be at least 1, got 0"),
        ({"extra_origins": ("localhost",)}, "origin 'localhost' is not of the form"),
        ({"wording": "feels"}, "wording must be one of looks, plain, got 'feels'"),
    ],
)
def test_caption_server_checks_its_arguments(kwargs, message):
    arguments = {"pipeline_factory": unused_factory, **kwargs}
    with pytest.raises(ValueError, match=message):
        CaptionServer(arguments.pop("pipeline_factory"), **arguments)


def test_static_files_need_a_folder_with_an_index():
    with pytest.raises(ValueError, match="package folder emocap.web/missing does not exist"):
        StaticFiles.from_package("emocap.web", "missing")
    with pytest.raises(ValueError, match="package folder emocap/samples has no index.html"):
        StaticFiles.from_package("emocap", "samples")


def test_static_files_answer_the_page_with_security_headers():
    files = StaticFiles.from_package()
    page = files.response("/?camera=1")
    assert page.status_code == 200 and b'id="captions"' in page.body
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert files.response("/app.js").headers["Content-Type"] == "text/javascript; charset=utf-8"
    # What "unsure" looks like comes from emocap.labels, the one definition every output draws.
    look = files.response("/look.css")
    assert look.headers["Content-Type"] == "text/css; charset=utf-8"
    assert f"--unsure-background: {UNSURE_CSS_BACKGROUND};".encode() in look.body
    assert b'href="look.css"' in page.body
    missing = files.response("/../secret")
    assert missing.status_code == 404 and missing.body == b"no such page: /../secret\n"
