"""`vpbehavior inspect PATH`: what is in a video, a recording or a dataset."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a video, a frame folder, a label/pose file or a dataset folder")
    parser.add_argument("--format", default="auto", help="dataset format (default: detect from the files)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--recordings", action="store_true", help="also list every recording")


def inspect_path(path: str, format: str = "auto") -> dict:
    """The summary object printed by ``inspect --json``.

    Keys: format, path, recordings, frames, subjects, classes, label_counts, splits,
    failures, recording_summaries.
    """
    from vpbehavior.io.registry import load

    return load(path, format=format).summary()


def _format_table(summary: dict, with_recordings: bool) -> str:
    lines = [
        f"path:        {summary['path']}",
        f"format:      {summary['format']}",
        f"recordings:  {summary['recordings']}",
        f"frames:      {summary['frames']}",
        f"subjects:    {', '.join(map(str, summary['subjects'])) or '-'}",
        f"splits:      {', '.join(f'{k}={v}' for k, v in summary['splits'].items()) or '-'}",
    ]
    if summary["classes"]:
        width = max(len(c) for c in summary["classes"])
        lines.append("classes (positive frame x subject cells):")
        lines += [f"  {c:<{width}}  {summary['label_counts'].get(c, 0):>10}" for c in summary["classes"]]
    else:
        lines.append("classes:     none (no labels)")
    if with_recordings:
        lines.append("recordings:")
        for rec in summary["recording_summaries"]:
            fps = f"{rec['fps']:.3g} fps" if rec["fps"] else "fps unknown"
            lines.append(f"  {rec['name']}: {rec['frames']} frames, {fps}, split={rec['split'] or '-'}")
    if summary["failures"]:
        lines.append(f"failed to load ({len(summary['failures'])}):")
        lines += [f"  {f['path']}: {f['error']}" for f in summary["failures"]]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    summary = inspect_path(args.path, args.format)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(_format_table(summary, args.recordings))
    return 1 if summary["failures"] and not summary["recordings"] else 0
