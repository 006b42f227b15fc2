"""Clips written with PyAV, and their streams read back with it, for the tests of the annotated copy.

`write_clip_with_tone` makes an H.264 video with an AAC sine tone, each stream starting at its own
time as in real MP4s; `streams_of`, `subtitle_track` and `stream_spans` read a file's streams, its
caption track and its streams' start and end times back from its packets. Plain functions
(imported like `frame_fixtures`: pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np


def write_clip_with_tone(path, images=None, fps=15, tone_hz=440.0, *, video_start_s=0.0, audio_start_s=0.0,
                         audio_s=None):
    """A clip made with PyAV: `images` (BGR; by default 2 s of 160x120 frames whose brightness
    rises) as H.264, and a sine tone as AAC, as long as the pictures unless `audio_s` says. Each
    stream starts at its own time, as in real MP4s (`video_start_s`, `audio_start_s`: the
    container keeps them as its streams' start times)."""
    import av

    if images is None:
        images = [np.full((120, 160, 3), 6 * i, np.uint8) for i in range(2 * fps)]
    height, width = images[0].shape[:2]
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = Fraction(1, 90000)  # a start between two frame times, as in real files
        audio = container.add_stream("aac", rate=48000)
        audio.layout = "mono"
        for index, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = round((video_start_s + index / fps) * 90000), Fraction(1, 90000)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        count = round((len(images) / fps if audio_s is None else audio_s) * 48000)
        tone = (0.3 * np.sin(2 * np.pi * tone_hz * np.arange(count) / 48000)).astype(np.float32)
        resampler = av.AudioResampler(format=audio.codec_context.format, layout="mono", rate=48000)
        first_sample = round(audio_start_s * 48000)
        for start in range(0, count, 1024):
            block = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], format="flt", layout="mono")
            block.sample_rate, block.pts = 48000, first_sample + start
            for resampled in resampler.resample(block):
                container.mux(audio.encode(resampled))
        container.mux(audio.encode(None))
    return path


def streams_of(path):
    """(codec name, duration in seconds) of each stream of a media file, read back with PyAV from its
    packets (WebM keeps no duration per stream)."""
    import av

    with av.open(str(path)) as container:
        ends = {stream.index: 0.0 for stream in container.streams}
        for packet in container.demux():
            if packet.pts is not None:
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                ends[packet.stream.index] = max(ends[packet.stream.index], end)
        return {stream.type: (stream.codec_context.name, ends[stream.index]) for stream in container.streams}


def subtitle_track(path):
    """(codec, [(start, end, text)]) of a file's subtitle track, read back with PyAV."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.subtitles[0]
        cues = []
        for packet in container.demux(stream):
            if packet.pts is None or not packet.size:
                continue
            data = bytes(packet)
            text = (data[2:] if stream.codec_context.name == "mov_text" else data).decode("utf-8")
            if text:
                start = float(packet.pts * packet.time_base)
                cues.append((round(start, 3), round(start + float(packet.duration * packet.time_base), 3), text))
        return stream.codec_context.name, cues


def stream_spans(path):
    """{kind: (first presentation time, end of the last packet)} of each stream, in seconds of the
    file's own timeline, and the number of sound samples it decodes to."""
    import av

    with av.open(str(path)) as container:
        spans = {}
        for packet in container.demux():
            if packet.pts is None:
                continue
            start = float(packet.pts * packet.time_base)
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            first, last = spans.get(packet.stream.type, (math.inf, -math.inf))
            spans[packet.stream.type] = (min(first, start), max(last, end))
    with av.open(str(path)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0)) if container.streams.audio else 0
    return spans, samples
