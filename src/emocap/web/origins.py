"""Which web pages may open the caption WebSocket.

Browsers send an `Origin` header with every WebSocket handshake; checking it
stops any other site open in the same browser from streaming the camera
through this server (cross-site WebSocket hijacking) or reading its answers.
A pinned list (not "whatever the Host header says") also defeats DNS
rebinding. Clients that are not browsers send no Origin and are allowed:
they are not a cross-site threat, and by default the server listens on this
computer only. With `--host` set to a network address, any program on that
network can send frames; `emocap serve` says so when it starts.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
_ORIGIN = re.compile(r"(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")


def _host_in_url(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def parse_origin(text: str) -> str:
    """A web origin as browsers write it (`http://host:port`, no path), or ValueError."""
    candidate = text.strip().lower()
    if not _ORIGIN.fullmatch(candidate):
        raise ValueError(
            f"origin {text!r} is not of the form http://HOST[:PORT] or https://HOST[:PORT] (no path, no trailing slash)"
        )
    return candidate


@dataclass(frozen=True)
class OriginPolicy:
    """The origins allowed to connect: the server's own page plus `extra`."""

    allowed: frozenset[str]

    @classmethod
    def for_server(cls, host: str, port: int, extra: tuple[str, ...] = ()) -> "OriginPolicy":
        """Pages served by this server, under any name that reaches it: the loopback names
        (always: a page on http://localhost:PORT is this server whatever --host says), `host`,
        and for a wildcard host (0.0.0.0, ::) this machine's name and addresses."""
        if not 1 <= port <= 65535:
            raise ValueError(f"port must be in 1..65535, got {port!r}")
        hosts = {*LOOPBACK_NAMES, host} - {""}
        if host in WILDCARD_HOSTS:
            hosts |= machine_names()
        own = {f"http://{_host_in_url(name.lower())}:{port}" for name in hosts}
        return cls(frozenset(own | {parse_origin(origin) for origin in extra}))

    def allows(self, origin: str | None) -> bool:
        return origin is None or origin.lower() in self.allowed


def machine_names() -> set[str]:
    """This machine's host names and the addresses they resolve to (no network traffic beyond the
    local resolver); a page opened on another address of the machine needs --allow-origin."""
    names = {socket.gethostname(), socket.getfqdn()}
    for name in list(names):
        try:
            names |= {info[4][0] for info in socket.getaddrinfo(name, None)}
        except OSError:  # a host name that does not resolve: its addresses stay unknown
            continue
    return {name for name in names if name}
