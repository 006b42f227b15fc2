"""The chunk contract (`WarmUp`): a chunk starts early enough that, from its first own frame on, perception's
schedule is the single pass's, whatever the schedule's settings and the frame rate."""

from dataclasses import dataclass

import pytest

from emocap.chunking import WarmUp, plan_chunks
from emocap.perception import scheduled_scan
from emocap.pipeline_config import PipelineConfig
from emocap.tracking.shots import JUMP, STEADY


FPS = 25.0


@dataclass(frozen=True)
class Frame:
    number: int
    time_s: float


def chunk_scans(frames: list[Frame], warm_up: WarmUp, keep_from_s: float, config: PipelineConfig, jumps: set[int]):
    """(frame number, scan, shot) of a chunk's own frames, as its worker's schedule sees them: counted from the
    first aligned frame, the first frame it perceives STEADY (its shot detector has nothing to compare with)."""
    seen = []
    for count, frame in enumerate(warm_up.aligned(frames, first_time_s=0.0, fps=FPS)):
        shot = STEADY if count == 0 else (JUMP if frame.number in jumps else STEADY)
        scan = scheduled_scan(count, shot, detect_every=config.detect_every, full_scan_every=config.full_scan_every)
        if frame.time_s >= keep_from_s:
            seen.append((frame.number, scan, shot))
    return seen



@pytest.mark.parametrize("detect_every, full_scan_every", [(1, 1), (1, 4), (2, 4), (3, 5), (10, 7)])
def test_from_a_chunks_first_frame_on_its_schedule_and_shots_are_the_single_pass(detect_every, full_scan_every):
    config = PipelineConfig(detect_every=detect_every, full_scan_every=full_scan_every)
    warm_up = WarmUp.of(config)
    frames = [Frame(n, n / FPS) for n in range(int(40 * FPS))]
    jumps = {7, 300, 301, 555}
    single = {frame.number: (scheduled_scan(frame.number, JUMP if frame.number in jumps else STEADY,
                                            detect_every=detect_every, full_scan_every=full_scan_every),
                             JUMP if frame.number in jumps else STEADY) for frame in frames}
    for chunk in plan_chunks(0.0, None, 40.0, chunk_s=7.0, overlap_s=warm_up.seconds_at(FPS)):
        decoded = [frame for frame in frames if frame.time_s >= chunk.decode_from_s]
        kept = chunk_scans(decoded, warm_up, chunk.keep_from_s, config, jumps)
        own = [frame.number for frame in decoded if frame.time_s >= chunk.keep_from_s and
               (chunk.end_s is None or frame.time_s < chunk.end_s)]
        assert [number for number, _, _ in kept][:len(own)] == own  # no frame of its own is skipped by the alignment
        assert all((scan, shot) == single[number] for number, scan, shot in kept), chunk


def test_the_warm_up_is_the_schedules_period_and_one_frame():
    assert WarmUp.of(PipelineConfig()).frames == 5  # a whole scan every 4th frame
    long = WarmUp.of(PipelineConfig(detect_every=10, full_scan_every=7))
    assert long.frames == 71 and long.seconds_at(25.0) == pytest.approx(71 / 25)
    assert long.seconds_at(None) == 2.0 and WarmUp.of(PipelineConfig(), overlap_s=5.0).seconds_at(None) == 5.0


@pytest.mark.parametrize("detect_every, full_scan_every", [(1, 4), (10, 7)])
def test_a_warm_up_one_frame_shorter_than_the_period_misses_a_shot_change_on_the_chunks_first_frame(
    detect_every, full_scan_every,
):
    """Why `period` frames at least: a chunk starting on a whole scan's frame (a multiple of the period) with
    fewer frames before it aligns on that frame itself, which its shot detector cannot compare with the one
    before, so a cut there is lost; `frames` aligns a period earlier. Fewer still skips the chunk's own frames."""
    config = PipelineConfig(detect_every=detect_every, full_scan_every=full_scan_every)
    warm_up, period = WarmUp.of(config), detect_every * full_scan_every
    start = 3 * period
    frames = [Frame(n, n / FPS) for n in range(start + 2 * period)]

    def first_kept(warm_up_frames: int):
        decoded = [frame for frame in frames if frame.number >= start - warm_up_frames]
        return chunk_scans(decoded, warm_up, start / FPS, config, jumps={start})[0]

    single_pass = (start, scheduled_scan(start, JUMP, detect_every=detect_every, full_scan_every=full_scan_every), JUMP)
    assert first_kept(warm_up.frames) == first_kept(period) == single_pass
    assert first_kept(period - 1)[2] == STEADY  # the cut at the chunk's first frame is lost


def test_thirty_frames_of_warm_up_for_a_period_of_seventy_would_lose_a_chunks_first_frames():
    """What the type guards against: the former floor of 30 frames alone, for detect_every 10 and
    full_scan_every 7, left the alignment skipping past the chunk's own first frames; the contract's warm-up does not."""
    config = PipelineConfig(detect_every=10, full_scan_every=7)
    frames = [Frame(n, n / FPS) for n in range(400)]

    def first_kept(warm_up_frames: int) -> int:
        decoded = [frame for frame in frames if frame.number >= 200 - warm_up_frames]
        return chunk_scans(decoded, WarmUp.of(config), 200 / FPS, config, set())[0][0]

    assert first_kept(30) == 210  # frames 200-209 lost
    assert first_kept(round(WarmUp.of(config).seconds_at(FPS) * FPS)) == 200
