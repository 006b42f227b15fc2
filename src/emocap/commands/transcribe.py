"""`emocap transcribe`: an emotion transcript of recorded video, as subtitles, records, an annotated copy."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import closing
from pathlib import Path

from emocap.commands.arguments import add_command, add_optional_value, positive_int, seconds
from emocap.commands.options import (
    add_image_limit_option, add_pipeline_options, add_wording_option, build_pipeline, pipeline_config,
)
from emocap.errors import EmocapError, OutputError
from emocap.outputs.files import ANNOTATED_STEM
from emocap.transcription import (
    OutputPlan,
    TranscriptionResult,
    TranscriptionSettings,
    find_videos,
    transcribe_videos,
)

PLOT_SUFFIXES = (".png", ".svg", ".pdf")
TRANSCRIPT_STEM = ".emotions"
TIMELINE_STEM = ".timeline"
REPORT_STEM = ".report"

DESCRIPTION = """\
Write an emotion transcript of a recorded video: for each face, which emotion
it shows and when that changes, as subtitles a video player shows under the
picture (WebVTT, SRT), as records for analysis (JSON Lines, CSV), as a copy of
the video with the captions drawn in, and as a summary of how long each face
showed each emotion.
"""

EPILOG = """\
outputs (-o, repeatable; the extension picks the format):
  talk.vtt       WebVTT subtitles, one cue per face and emotion:
                   00:00:01.200 --> 00:00:04.500
                   Face 1 (left): looks happy — positive
  talk.srt       SubRip subtitles, the same cues
  talk.jsonl     JSON Lines: one record per frame (default) or per segment (--records)
  talk.csv       CSV: the same fields, one row per face per frame, or per segment
  vtt, srt, ...  a format name alone: named after the video, VIDEO.emotions.vtt,
                 in --out-dir (default: the video's own folder)

  With no -o, --annotate or --summary-plot, VIDEO.emotions.vtt is written.
  Files appear only when complete: an error leaves no half-written output.
  The record fields are described in docs/RECORDS.md.

how captions are cut:
  A face's caption is its emotion after the per-face memory ("looks sad"), with
  a second one when the model finds two close ("looks sad / fear"); --wording
  plain drops "looks". A new cue starts
  when the caption changes and lasts --min-duration seconds or more; shorter
  flickers, and drop-outs of the face shorter than that, stay in the cue
  before. Times are each frame's own, so variable frame rates are kept.
  Faces are numbered in order of appearance; left / centre / right is the
  third of the picture the face is in.

the annotated copy (--annotate):
  Boxes, captions and probability bars drawn on every frame, each at its own
  time, with the sound of the original: .mp4 (also .m4v, .mov, .mkv) is H.264
  that browsers, phones and players play, the sound copied as it is (AAC) or
  re-encoded to AAC; .webm is VP9 with Opus; .avi is MPEG-4 Part 2 with PCM
  for older tools.

the report (--report):
  One page to open in a browser, beside the video it plays (the annotated copy
  when there is one): the video with its captions, a timeline per face
  coloured by emotion and valence (click a segment, or Tab to it and press
  Enter, to play from there), a table per face, and how the run was made.

summary:
  At the end, a table per face: seconds with a caption, the share of each
  emotion and of each valence (negative, neutral, positive). With
  --summary-plot, also a timeline image: one row per face, coloured by emotion.

on many cores, or a cluster (needs Ray: pip install 'emocap[cluster]'):
  Videos, and long videos in chunks of about a minute (--chunk-seconds), are
  transcribed as Ray tasks, each by a worker process; this one stitches the
  chunks (a face keeps one number across the whole video, and the transcript
  is the one a single process writes) and writes every output. With Ray
  installed, a local Ray with one worker per core starts by itself, listening
  on 127.0.0.1 only; --workers 1 is one process, without Ray. A worker that
  dies has its chunk run again; run an interrupted command again with
  --resume to skip the videos it finished.
  On a cluster: `ray start --head --port 6379` on one machine, `ray start
  --address HEAD:6379` on each other one, then --ray-address HEAD:6379 here
  (or RAY_ADDRESS). emocap's code and the model travel with the tasks; each
  machine needs emocap's dependencies, and reads the videos at the path given
  here.

examples:
  emocap transcribe talk.mp4                      writes talk.emotions.vtt beside the video
  emocap transcribe talk.mp4 -o talk.srt -o talk.jsonl --records segment
  emocap transcribe talk.mp4 --annotate talk-captioned.mp4 --summary-plot talk.png
  emocap transcribe talk.mp4 --annotate --report  talk.annotated.mp4 and talk.report.html to open
  emocap transcribe interviews/ -o vtt -o csv --out-dir transcripts/
                                                  every video in the folder, named after each
  emocap transcribe long.mp4 --detect-every 3     faster: boxes tracked between detections
  emocap transcribe long.mp4 -o long.vtt --workers 2
                                                  two cores on one long video, in chunks
  emocap transcribe archive/ -o vtt --ray-address 10.0.0.5:6379 --resume
                                                  on a Ray cluster, skipping videos already done
"""


def add_parser(subparsers) -> None:
    parser = add_command(
        subparsers, "transcribe",
        help="emotion subtitles and records for recorded video",
        description=DESCRIPTION,
        epilog=EPILOG,
    )
    parser.add_argument("input", metavar="VIDEO_OR_FOLDER", help="a video file, or a folder: every video in it")
    parser.add_argument("-o", "--output", action="append", default=[], metavar="FILE_OR_FORMAT",
                        help="a transcript file (.vtt, .srt, .jsonl, .csv), or a format name (vtt, srt, jsonl, csv) "
                        "to name it after the video; repeatable")
    parser.add_argument("--out-dir", type=Path, metavar="DIR",
                        help="folder for outputs named after the video (default: the video's folder; created if needed)")
    add_optional_value(parser, "--annotate", metavar="OUT.mp4",
                        help="also write a copy of the video with boxes and captions and the original sound "
                        "(.mp4: H.264, plays everywhere; .m4v, .mov, .mkv; .webm: VP9; .avi); alone, it is "
                        "named VIDEO.annotated.mp4")
    parser.add_argument("--start", type=seconds(0), default=0.0, metavar="S",
                        help="begin S seconds into the video (found by seeking; subtitles and records keep the "
                        "video's own times, the annotated copy begins at S)")
    parser.add_argument("--end", type=seconds(0, above=True), default=None, metavar="S",
                        help="stop S seconds into the video (default: its end)")
    parser.add_argument("--embed-subtitles", action="store_true",
                        help="also put the emotion subtitles into the annotated copy as a track players can show "
                        "or hide (mov_text in .mp4/.m4v/.mov, WebVTT in .mkv/.webm); needs --annotate")
    parser.add_argument("--records", choices=("frame", "segment"), default="frame",
                        help="what one JSON Lines / CSV record describes: a frame (default) or a segment (a cue)")
    parser.add_argument("--min-duration", type=seconds(0), default=0.5, metavar="S",
                        help="shortest change of caption that starts a new cue, in seconds (default: 0.5)")
    add_optional_value(parser, "--summary-plot", metavar="PNG",
                        help="also save a timeline of each face's emotions (.png, .svg, .pdf); "
                        "alone, it is named VIDEO.timeline.png")
    add_optional_value(parser, "--report", metavar="HTML",
                        help="also write one self-contained page to look at: the video (the annotated copy when "
                        "there is one) with its captions, a timeline per face that seeks the video when clicked, "
                        "a table per face, and how the run was made; alone, it is named VIDEO.report.html")
    parser.add_argument("--keep-partial", action="store_true",
                        help="if a video ends early (a truncated file), keep the transcript of what could be read "
                        "instead of failing")
    add_wording_option(parser)
    parser.add_argument("--resume", action="store_true",
                        help="skip the videos whose outputs all exist (outputs appear only when complete): run an "
                        "interrupted command again with --resume to go on where it stopped")
    add_cluster_options(parser)
    add_pipeline_options(parser)
    add_image_limit_option(parser)
    parser.set_defaults(run=run)


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("many cores or a cluster (Ray)")
    group.add_argument("--workers", type=positive_int, default=None, metavar="N",
                       help="videos or chunks transcribed at once: a local Ray with N worker processes, at most "
                       "one per core (default: one per core when Ray is installed and there is more than one task, "
                       "else 1); 1 is one process, without Ray; with --ray-address, at most N tasks at once on the "
                       "cluster (default: one per CPU it has)")
    group.add_argument("--ray-address", default=os.environ.get("RAY_ADDRESS") or None, metavar="HOST:PORT",
                       help="run the tasks on a running Ray cluster, the address `ray start --head` prints "
                       "(default: $RAY_ADDRESS; none: a Ray started here)")
    group.add_argument("--chunk-seconds", type=seconds(1), default=None, metavar="S",
                       help="with Ray, cut videos into chunks of about S seconds, transcribed in parallel and "
                       "stitched (default: 60)")


def plan_outputs(videos: list[Path], args: argparse.Namespace) -> list[OutputPlan]:
    """Each video's output paths, checked before any work: formats known, no clashes, folders there."""
    from emocap.outputs.files import check_folders, check_outputs
    from emocap.outputs.registry import WRITERS, writer_class
    from emocap.outputs.html_report import REPORT_SUFFIX, check_report_path
    from emocap.outputs.summary import check_plot_path
    from emocap.outputs.video import VIDEO_FORMATS, video_format

    if args.end is not None and args.end <= args.start:
        raise OutputError(f"--end {args.end:g} must come after --start {args.start:g}")
    if args.embed_subtitles and args.annotate is None:
        raise OutputError("--embed-subtitles puts the subtitles into the annotated copy: add --annotate")
    several = len(videos) > 1 or Path(args.input).is_dir()
    nothing_else = args.annotate is None and args.summary_plot is None and args.report is None
    requested = list(args.output) or (["vtt"] if nothing_else else [])

    def output_path(video: Path, value: str, tail: str, formats) -> Path:
        """The user's path, or one named after the video when a format name (or nothing: the first format) is given."""
        suffix = "." + value.lower().lstrip(".") if value else next(iter(formats))
        if value.lower() in ("", suffix, suffix[1:]) and suffix in formats:
            folder = args.out_dir if args.out_dir is not None else video.parent
            return folder / f"{video.stem}{tail}{suffix}"
        if several:
            raise OutputError(
                f"with several videos, name formats (-o vtt), not files ({value!r}): each output is named after its video"
            )
        return Path(value)

    plans = []
    for video in videos:
        transcripts = tuple(output_path(video, value, TRANSCRIPT_STEM, WRITERS) for value in requested)
        annotated = None if args.annotate is None else output_path(video, args.annotate, ANNOTATED_STEM, VIDEO_FORMATS)
        timeline = None if args.summary_plot is None else output_path(video, args.summary_plot, TIMELINE_STEM, PLOT_SUFFIXES)
        report = None if args.report is None else output_path(video, args.report, REPORT_STEM, (REPORT_SUFFIX,))
        for path in transcripts:
            writer_class(path)
        if annotated is not None:
            video_format(annotated, subtitles=args.embed_subtitles)
        if timeline is not None:
            check_plot_path(timeline)
        if report is not None:
            check_report_path(report)
        plans.append(OutputPlan(video, transcripts, annotated, timeline, report))

    check_outputs(((plan.video, plan.paths) for plan in plans), noun="video", verb="transcribes",
                  also_read={"--model": args.model})
    check_folders(path for plan in plans for path in plan.paths)
    return plans


def run(args: argparse.Namespace) -> int:
    from emocap.outputs.files import folder_for_outputs

    videos = find_videos(Path(args.input))
    with folder_for_outputs(args.out_dir, option="--out-dir"):
        return transcribe_all(videos, args)


def transcribe_all(videos: list[Path], args: argparse.Namespace) -> int:
    plans = plan_outputs(videos, args)
    if args.resume:
        plans = unfinished(plans)
    config = pipeline_config(args)
    settings = TranscriptionSettings(
        records=args.records, min_duration_s=args.min_duration, keep_partial=args.keep_partial,
        embed_subtitles=args.embed_subtitles, run_info=run_info(args, config), start_s=args.start, end_s=args.end,
        max_side=args.max_image_side, wording=args.wording,
    )
    on_ray = ray_work(args, plans, settings, config)
    if on_ray is None:
        outcomes = transcribe_videos(plans, build_pipeline(args, config=config), settings)
    else:
        from emocap.captioning import Captioning
        from emocap.cluster import transcribe_on_ray

        # The driver only captions: its model's metadata checked here, before any task is sent; no network built.
        outcomes = transcribe_on_ray(on_ray[1], Captioning.for_model(config), settings, on_ray[0])
    failures = []
    with closing(outcomes):  # a Ray session ends here, whatever happens
        for plan, outcome in outcomes:
            if not isinstance(outcome, EmocapError):
                report(outcome)
            elif len(plans) == 1:
                raise outcome
            else:
                failures.append(f"emocap transcribe: error: {plan.video}: {outcome}")
    for line in failures:  # at the end, below the reports and the progress bar
        print(line, file=sys.stderr)
    if failures:
        print(f"emocap transcribe: {len(failures)} of {len(plans)} videos failed; their outputs were not written",
              file=sys.stderr)
        return EmocapError.exit_code
    return 0


def unfinished(plans: list[OutputPlan]) -> list[OutputPlan]:
    """The plans with an output still missing (one that exists is complete: outputs are written whole)."""
    left = []
    for plan in plans:
        if all(path.exists() for path in plan.paths):
            print(f"{plan.video}: skipped, its outputs are there (--resume)")
        else:
            left.append(plan)
    return left


def cluster_settings(args: argparse.Namespace):
    """Where the work may run: None for this process, else the `ClusterSettings` of a Ray run."""
    from emocap.chunking import DEFAULT_CHUNK_S
    from emocap.cluster import ClusterSettings, ray_installed
    from emocap.onnx_session import usable_cores

    address, workers, cores = args.ray_address, args.workers, usable_cores()
    if address is None and workers is not None and workers > cores:
        # Each local worker is a process holding its own networks: past one a core, they only add memory.
        print(f"emocap transcribe: note: --workers {workers} is more than the {cores} cores here; using {cores}",
              file=sys.stderr)
        workers = cores
    if address is None and (workers == 1 or (workers is None and cores == 1)):
        return None
    if not ray_installed():
        if address is None and workers is None:
            return None  # the default without Ray: one process
        needs = f"--ray-address {address}" if address else f"--workers {workers}"
        raise EmocapError(f"{needs} runs on Ray, which is not installed: pip install 'emocap[cluster]'")
    return ClusterSettings(
        address=address, workers=workers if address else (workers or cores),
        chunk_s=args.chunk_seconds or DEFAULT_CHUNK_S,
    )


def ray_work(args: argparse.Namespace, plans: list[OutputPlan], settings: TranscriptionSettings, config):
    """(`ClusterSettings`, the videos probed and planned) for a run on Ray; None for this process. Each
    video is probed once, here: by default Ray runs only where there is work to share."""
    cluster = cluster_settings(args)
    if cluster is None:
        return None
    from emocap.cluster import plan_videos, shares_work

    planned = plan_videos(plans, settings, cluster, config)
    if len(planned) == 1 and isinstance(planned[0][1], EmocapError):
        raise planned[0][1]  # the one video cannot be shared out (a damaged header): said before Ray starts
    if args.ray_address is None and args.workers is None and not shares_work(planned):
        return None
    return cluster, planned


def run_info(args: argparse.Namespace, config=None) -> tuple[tuple[str, str], ...]:
    """How this run was made, for the --report page: the pipeline's `config` (None: the one `args` make) in a
    reader's words, and the transcription's own options."""
    from datetime import datetime

    from emocap import __version__

    config = config or pipeline_config(args)
    return (
        *config.describe(model_name=f"the built-in {args.labels or 'fer2013'} model"),
        ("shortest caption", f"{args.min_duration:g} s"),
        ("wording", args.wording),
        ("part", f"{args.start:g} s to " + ("the end" if args.end is None else f"{args.end:g} s")),
        ("emocap", __version__),
        ("made", datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
    )


def report(result: TranscriptionResult) -> None:
    """The summary table on stdout; notes about the run on stderr."""
    plan, summary = result.plan, result.summary
    print(f"{plan.video}: {result.frames} frames, {result.duration_s:.1f} s; faces with a caption: {len(summary.track_ids)}")
    if result.faces_seen == 0:
        print(
            f"emocap transcribe: note: no faces found in {str(plan.video)!r}; the transcript is empty",
            file=sys.stderr,
        )
    else:
        print(summary.table())
    for path in plan.paths:
        print(f"wrote {path}")
