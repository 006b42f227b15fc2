"""emocap: facial emotion captions for live and recorded video."""

__version__ = "0.1.0"
