"""The local caption web page: a server (HTTP page + WebSocket) and its static files.

Thin by design: frames in, `Pipeline` results out as JSON; no model logic here.
"""

from emocap.web.server import CaptionServer

__all__ = ["CaptionServer"]
