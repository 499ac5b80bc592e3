"""BORIS observations over several media files played in sequence: times count from the start of the
observation, so the earlier files' durations are subtracted for the file read; the media files an
export names, in playing order."""

from __future__ import annotations

from pathlib import Path

import pytest

from vpbehavior.core import DataError
from vpbehavior.io.label_formats import boris_media_files, read_label_file

PART1, PART2 = "/data/mice/day1_part1.mp4", "/data/mice/day1_part2.mp4"
DUR1, DUR2, FPS1, FPS2 = 600.0, 300.0, 30.0, 25.0


def _source(media: list[str]) -> str:
    return "player #1:" + ";".join(media)


def tabular_events(path: Path, events, offset: float = 0.0, durations=(DUR1, DUR2), fps=(FPS1, FPS2)) -> Path:
    """A BORIS 8 tabular-events export of a two-media observation, with the columns and cell formats of
    BORIS's export_tabular_events (several media: durations and FPS ';'-separated, 3 decimals)."""
    header = [
        "Observation id", "Observation date", "Description", "Observation duration", "Observation type",
        "Source", "Time offset (s)", "Media duration (s)", "FPS", "Subject", "Behavior", "Behavioral category",
        "Behavior type", "Time", "Media file name", "Image index", "Image file path", "Comment",
    ]  # fmt: skip
    lines = ["\t".join(header)]
    for subject, behavior, status, time in events:
        medium = PART1 if time - offset < durations[0] else PART2  # BORIS names the file holding the event
        lines.append(
            "\t".join(
                [
                    "obs_day1",
                    "2024-03-01 09:30:00",
                    "",
                    f"{sum(durations):.3f}",
                    "Media file(s)",
                    _source([PART1, PART2]),
                    f"{offset:.3f}",
                    ";".join(f"{d:.3f}" for d in durations),
                    ";".join(f"{f:.3f}" for f in fps),
                    subject,
                    behavior,
                    "",
                    status,
                    f"{time:.3f}",
                    medium,
                    "NA",
                    "NA",
                    "",
                ]
            )  # fmt: skip
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def aggregated_events(path: Path, bouts, offset: float = 0.0) -> Path:
    """A BORIS 8 aggregated-events export (columns of BORIS's export_aggregated_events / its sheet header)."""
    header = [
        "Observation id", "Observation date", "Description", "Observation type", "Source", "Time offset (s)",
        "Coding duration", "Media duration (s)", "FPS (frame/s)", "Subject",
        "Observation duration by subject by observation", "Behavior", "Behavioral category", "Behavior type",
        "Start (s)", "Stop (s)", "Duration (s)", "Media file name", "Image index start", "Image index stop",
        "Image file path start", "Image file path stop", "Comment start", "Comment stop",
    ]  # fmt: skip
    lines = [",".join(header)]
    for subject, behavior, kind, start, stop in bouts:
        medium = PART1 if start - offset < DUR1 else PART2
        duration = "NA" if kind == "POINT" else f"{stop - start:.3f}"
        lines.append(
            ",".join(
                [
                    "obs_day1",
                    "2024-03-01 09:30:00",
                    "",
                    "Media file",
                    _source([PART1, PART2]),
                    f"{offset:.3f}",
                    "900.000",
                    f"{DUR1:.3f};{DUR2:.3f}",
                    f"{FPS1:.3f};{FPS2:.3f}",
                    subject,
                    "",
                    behavior,
                    "",
                    kind,
                    f"{start:.3f}",
                    f"{stop:.3f}",
                    duration,
                    medium,
                    "NA",
                    "NA",
                    "NA",
                    "NA",
                    "",
                    "",
                ]
            )  # fmt: skip
        )
    path.write_text("\n".join(lines) + "\n")
    return path


EVENTS = [
    ("m1", "walk", "START", 10.0),
    ("m1", "walk", "STOP", 12.5),
    ("m1", "rest", "START", 598.0),  # runs on into the second file
    ("m1", "rest", "STOP", 601.0),
    ("m1", "groom", "START", 604.0),
    ("m1", "groom", "STOP", 606.0),
    ("m1", "jump", "POINT", 620.2),
]


def bouts_of(labels) -> set[tuple]:
    return {(b.behavior, b.start, b.stop) for b in labels.to_bouts()}


def test_tabular_events_second_file(tmp_path):
    path = tabular_events(tmp_path / "obs_day1.tsv", EVENTS)
    labels = read_label_file(path, n_frames=7500, fps=FPS2, media="day1_part2.mp4")
    assert labels.n_frames == 7500
    # groom 4.0-6.0 s into part 2 at 25 fps; rest clipped to the file's start; jump 20.2 s in
    assert bouts_of(labels) == {("rest", 0, 25), ("groom", 100, 150), ("jump", 505, 506)}
    assert set(labels.classes) == {"walk", "rest", "groom", "jump"}  # the observation's vocabulary


def test_tabular_events_first_file(tmp_path):
    path = tabular_events(tmp_path / "obs_day1.tsv", EVENTS)
    labels = read_label_file(path, n_frames=18000, fps=FPS1, media="day1_part1.mp4")
    # rest is clipped at the end of part 1; nothing of part 2 lands in part 1
    assert bouts_of(labels) == {("walk", 300, 375), ("rest", 17940, 18000)}


def test_time_offset_and_fps_from_the_export(tmp_path):
    shifted = [(s, b, st, t + 2.0) for s, b, st, t in EVENTS]
    path = tabular_events(tmp_path / "obs_day1.tsv", shifted, offset=2.0)
    labels = read_label_file(path, media=PART2)  # no video at hand: FPS and extent of part 2 from the export
    assert labels.n_frames == int(DUR2 * FPS2)
    assert bouts_of(labels) == {("rest", 0, 25), ("groom", 100, 150), ("jump", 505, 506)}


def test_aggregated_events_second_file(tmp_path):
    bouts = [
        ("m1", "walk", "STATE", 10.0, 12.5),
        ("m1", "rest", "STATE", 598.0, 601.0),
        ("m1", "groom", "STATE", 604.0, 606.0),
        ("m1", "jump", "POINT", 620.2, 620.2),
    ]
    path = aggregated_events(tmp_path / "obs_day1_aggregated.csv", bouts)
    two = read_label_file(path, n_frames=7500, fps=FPS2, media="day1_part2.mp4")
    assert bouts_of(two) == {("rest", 0, 25), ("groom", 100, 150), ("jump", 505, 506)}
    one = read_label_file(path, n_frames=18000, fps=FPS1, media="day1_part1.mp4")
    assert bouts_of(one) == {("walk", 300, 375), ("rest", 17940, 18000)}


def test_which_file_must_be_known(tmp_path):
    path = tabular_events(tmp_path / "obs_day1.tsv", EVENTS)
    with pytest.raises(DataError, match="plays 2 media files in sequence"):
        read_label_file(path, fps=FPS2)
    with pytest.raises(DataError, match="'day1_part3' is not among them"):
        read_label_file(path, fps=FPS2, media="day1_part3.mp4")


def boris7_events(path: Path, media: list[str], rows) -> Path:
    """BORIS 7 tabular events: metadata lines (``Player #1`` per media file), then the events table."""
    lines = ["Observation id,obs_day1", "", "Media file(s)", ""]
    lines += [f"Player #1,{m}" for m in media]
    lines += ["", "Observation date,2019-05-02 10:00:00", "", "Description,", "", "Time offset (s),0.000", ""]
    lines.append("Time,Media file path,Total length,FPS,Subject,Behavior,Behavioral category,Comment,Status")
    for t, medium, behavior, status in rows:
        lines.append(f"{t:.3f},{medium},900.000,25,m1,{behavior},,,{status}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_boris7_without_durations(tmp_path):
    win = [r"C:\videos\day1_part1.mp4", r"C:\videos\day1_part2.mp4"]
    path = boris7_events(
        tmp_path / "obs_day1.csv", win, [(1.0, win[0], "walk", "START"), (3.0, win[0], "walk", "STOP")]
    )
    labels = read_label_file(path, n_frames=500, fps=25, media="day1_part1.avi")
    assert bouts_of(labels) == {("walk", 25, 75)}
    with pytest.raises(DataError, match="no duration per file"):
        read_label_file(path, n_frames=500, fps=25, media="day1_part2.avi")
    assert boris_media_files(path) == ["day1_part1.mp4", "day1_part2.mp4"]
    assert boris_media_files(path, full_path=True) == win


def test_boris_media_files_in_playing_order(tmp_path):
    path = tabular_events(tmp_path / "obs_day1.tsv", EVENTS)
    assert boris_media_files(path) == ["day1_part1.mp4", "day1_part2.mp4"]
    assert boris_media_files(path, full_path=True) == [PART1, PART2]
    two_players = tmp_path / "two_players.tsv"
    two_players.write_text(
        path.read_text().replace(_source([PART1, PART2]), "player #1:top.mp4;top2.mp4|player #2:side.mp4")
    )
    assert boris_media_files(two_players) == ["top.mp4", "top2.mp4", "side.mp4", "day1_part1.mp4", "day1_part2.mp4"]
    assert boris_media_files(tmp_path / "missing.tsv") == []
    single = tmp_path / "single.tsv"
    single.write_text(path.read_text().replace(_source([PART1, PART2]), _source([PART2])))
    assert boris_media_files(single)[0] == "day1_part2.mp4"
