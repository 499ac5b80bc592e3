"""`vpbehavior inspect PATH`: what is in a video, a recording or a dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._flags import add_loading_flags


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a video, a frame folder, a label/pose file or a dataset folder")
    add_loading_flags(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--recordings", action="store_true", help="also list every recording and its files")
    parser.add_argument("--verify", action="store_true", help="decode every frame of a single video to find damage")


def _is_video_file(path: Path) -> bool:
    from vpbehavior.api import VIDEO_SUFFIXES

    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def inspect_path(path: str | Path, format: str = "auto", verify: bool = False, **options) -> dict:
    """The summary object printed by ``inspect --json``.

    Keys: format, path, recordings, labelled_recordings, frames, annotated_cells, subjects,
    classes, label_counts, splits, test_split, failures, skipped, unpaired, recording_summaries;
    for a single video also ``video`` (frames, fps, resolution, codec, duration, truncated).
    """
    import vpbehavior

    path = Path(path)
    if format == "auto" and _is_video_file(path):
        from vpbehavior.api import probe_video

        info = probe_video(path)
        if verify:
            from vpbehavior.api import verify_video

            info["verified"] = verify_video(path, progress=True)
        summary = vpbehavior.load(path, format="folder", **options).summary()
        summary.update(format="video", video=info)
        return summary
    return vpbehavior.load(path, format=format, **options).summary()


def _video_lines(info: dict) -> list[str]:
    duration = info.get("duration")
    lines = [
        f"video:       {info.get('width')}x{info.get('height')}, codec {info.get('codec')}, "
        f"container {info.get('container') or info.get('format') or '?'}",
        f"             {info.get('n_frames')} frames at {info.get('fps') or '?'} fps"
        + (f", {duration:.2f} s" if duration else ""),
    ]
    if info.get("truncated"):
        lines.append("             TRUNCATED: only the frames listed above can be decoded")
    verified = info.get("verified")
    if verified:
        bad = verified.get("first_bad_frame")
        lines.append(
            f"verified:    {verified.get('good_frames')} frames decode"
            + ("" if bad is None else f"; decoding fails at frame {bad}")
        )
    return lines


def format_table(summary: dict, with_recordings: bool) -> str:
    lines = [f"path:        {summary['path']}", f"format:      {summary['format']}"]
    if "video" in summary:
        lines += _video_lines(summary["video"])
    lines += [
        f"recordings:  {summary['recordings']} ({summary['labelled_recordings']} with labels)",
        f"frames:      {summary['frames']}",
        f"subjects:    {', '.join(map(str, summary['subjects'])) or '-'}",
        f"splits:      {', '.join(f'{k}={v}' for k, v in summary['splits'].items() if k != 'none') or '-'}"
        + (f" (test split: {summary['test_split']})" if summary.get("test_split") else ""),
    ]
    if summary["classes"]:
        width = max(len(c) for c in summary["classes"])
        lines.append(f"classes (positive frame x subject cells, of {summary['annotated_cells']} annotated cells):")
        lines += [f"  {c:<{width}}  {summary['label_counts'].get(c, 0):>10}" for c in summary["classes"]]
    else:
        lines.append("classes:     none (no labels)")
    recs = summary["recording_summaries"]
    if with_recordings or len(recs) == 1:
        lines.append("recordings:")
        for rec in recs:
            fps = f"{rec['fps']:.4g} fps" if rec["fps"] else "fps unknown"
            lines.append(f"  {rec['name']}: {rec['frames']} frames, {fps}, split={rec['split'] or '-'}")
            sources = rec.get("sources") or {}
            pose = sources.get("pose_file")
            labels = sources.get("label_files") or []
            if "pose_file" in sources or "label_files" in sources:
                lines.append(f"    pose:   {pose or 'none found'}")
                lines.append(f"    labels: {', '.join(map(str, labels)) if labels else 'none found'}")
            tracks = rec.get("tracks") or {}
            partial = {t: n for t, n in (tracks.get("present_frames") or {}).items() if n < rec["frames"]}
            if tracks.get("fragmented"):
                lines.append(
                    f"    tracks: {tracks['count']} pose tracks but at most {tracks['together']} at a time: fragmented "
                    "tracking (keep the longest with --tracks N, or merge with --merge-tracks FILE.json)"
                )
            elif partial:
                lines.append("    tracks present in: " + ", ".join(f"{t} {n} frames" for t, n in partial.items()))
    fragmented = [r["name"] for r in recs if (r.get("tracks") or {}).get("fragmented")]
    if fragmented and not (with_recordings or len(recs) == 1):
        lines.append(
            f"fragmented tracks in {len(fragmented)} recording(s) ({', '.join(fragmented[:3])}); see --recordings, "
            "and --tracks N or --merge-tracks FILE.json"
        )
    for key, title in (("unpaired", "not paired with a video"), ("skipped", "skipped (not recordings)")):
        if summary.get(key):
            lines.append(f"{title} ({len(summary[key])}):")
            lines += [f"  {f['path']}: {f['reason']}" for f in summary[key]]
    if summary["failures"]:
        lines.append(f"failed to load ({len(summary['failures'])}):")
        lines += [f"  {f['path']}: {f['error']}" for f in summary["failures"]]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    import vpbehavior

    options = vpbehavior.parse_track_options(args.tracks, args.merge_tracks)
    summary = inspect_path(args.path, args.format, args.verify, **options)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(format_table(summary, args.recordings))
    if summary["failures"]:
        return 1
    verified = (summary.get("video") or {}).get("verified")
    return 1 if verified and verified.get("first_bad_frame") is not None else 0
