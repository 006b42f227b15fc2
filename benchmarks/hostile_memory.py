"""Peak RSS of `emocap serve` under 100 connections that send frames and never read, and whether
`--smoother paper --memory 100000000` is refused, for the source tree given as the first argument.

    nice -n 19 python benchmarks/hostile_memory.py /path/to/before/src
    nice -n 19 python benchmarks/hostile_memory.py src

(The 16000x16000-frame `transcribe` figure is not measured here yet.)
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import struct
import subprocess
import sys
import time

import cv2
import numpy as np

CONNECTIONS = 100
FRAMES_EACH = 20


def emocap(tree: str, *argv: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": tree}
    return subprocess.Popen([sys.executable, "-m", "emocap", *argv], env=env, text=True, **popen)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def masked_binary_frame(payload: bytes) -> bytes:
    # A zero mask key leaves the payload as it is; clients must set the mask bit all the same.
    return b"\x82" + bytes([0x80 | 127]) + struct.pack(">Q", len(payload)) + b"\x00\x00\x00\x00" + payload


def greedy_client(port: int, frame: bytes) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    connection.sendall(
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    connection.setblocking(False)
    return connection


def serve_under_greedy_clients(tree: str) -> float:
    noise = np.random.default_rng(0).integers(0, 256, (900, 1200, 3), np.uint8)
    frame = masked_binary_frame(cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    server = emocap(tree, "serve", "--port", "0", stdout=subprocess.PIPE)
    try:
        port = int(server.stdout.readline().split()[3].rstrip("/").rsplit(":", 1)[1])
        clients = [greedy_client(port, frame) for _ in range(CONNECTIONS)]
        pending = {client: frame * FRAMES_EACH for client in clients}
        deadline = time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            for client, data in list(pending.items()):
                try:
                    sent = client.send(data[:1 << 20])
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:  # refused or closed by the server
                    del pending[client]
                    continue
                pending[client] = data[sent:] or None
                if pending[client] is None:
                    del pending[client]
            time.sleep(0.01)
        time.sleep(5)
        return peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def paper_memory(tree: str) -> str:
    started = time.monotonic()
    run = emocap(tree, "transcribe", "--smoother", "paper", "--memory", "100000000", "--help",
                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = run.communicate(timeout=60)
    return f"exit {run.returncode} in {time.monotonic() - started:.1f} s: {err.strip() or '(accepted)'}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", help="the src folder of the emocap to measure (it goes on PYTHONPATH)")
    tree = parser.parse_args().tree
    print(f"--memory 100000000: {paper_memory(tree)}")
    print(f"serve, {CONNECTIONS} connections sending {FRAMES_EACH} frames each, never reading: "
          f"peak RSS {serve_under_greedy_clients(tree):.0f} MB")
