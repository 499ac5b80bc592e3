"""Writers of the files lab tools leave next to their videos, made with the tools' own libraries.

For tests and examples: each writer produces the layout the tool itself writes, so loaders are
checked against real files rather than against our own idea of them.

* DeepLabCut tables through pandas exactly as DeepLabCut calls it: analysis output
  ``df.to_hdf(path, key="df_with_missing", format="table", mode="w")``, stitched tracks
  ``df.to_hdf(path, "tracks", format="table", mode="w")``, labeled data
  ``df.to_hdf(path, key="df_with_missing", mode="w")`` (pandas' "fixed" layout) and
  ``df.to_csv(path)`` (needs pandas and PyTables, the ``dev`` extra).
* SLEAP predictions, analysis HDF5 and analysis CSV through sleap-io.
* NWB pose files through pynwb and ndx-pose, laid out as DANDI holds them (one
  ``PoseEstimation`` per animal in the "behavior" processing module).

The content is synthetic: every writer puts the ``SYNTHETIC.txt`` marker in the folder it writes to.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vpbehavior.testing import mark_synthetic

DLC_SCORER = "DLC_resnet50_openfieldJan1shuffle1_100000"


def video(path: str | Path, n_frames: int = 20, fps: float = 10.0, size: tuple[int, int] = (24, 32)) -> Path:
    """A small real video (MPEG-4 Part 2) whose frame i has gray level 9 * i % 255."""
    from vpbehavior.io.video import write_video

    h, w = size
    mark_synthetic(Path(path).parent)
    frames = (np.full((h, w, 3), 9 * i % 255, np.uint8) for i in range(n_frames))
    return write_video(Path(path), frames, fps=fps, codec="mp4v")


def dlc_frame(
    values: np.ndarray,
    bodyparts: Sequence[str],
    individuals: Sequence[str] | None = None,
    scorer: str = DLC_SCORER,
    coords: Sequence[str] = ("x", "y", "likelihood"),
    index=None,
    unique_bodyparts: Sequence[str] = (),
    unique_values: np.ndarray | None = None,
):
    """DeepLabCut's DataFrame: columns (scorer, [individuals,] bodyparts, coords), one row per frame.

    ``values`` is ``[T, len(individuals) or 1, len(bodyparts), len(coords)]``; the unique body parts
    of a multi-animal project are the individual "single" (``unique_values`` ``[T, U, len(coords)]``).
    """
    import pandas as pd

    values = np.asarray(values, float)
    n = values.shape[0]
    if individuals:
        levels = [[scorer], list(individuals), list(bodyparts), list(coords)]
        names = ["scorer", "individuals", "bodyparts", "coords"]
    else:
        levels = [[scorer], list(bodyparts), list(coords)]
        names = ["scorer", "bodyparts", "coords"]
    columns = pd.MultiIndex.from_product(levels, names=names)
    df = pd.DataFrame(values.reshape(n, -1), columns=columns, index=index)
    if unique_bodyparts:
        unique = pd.MultiIndex.from_product([[scorer], ["single"], list(unique_bodyparts), list(coords)], names=names)
        df = df.join(pd.DataFrame(np.asarray(unique_values, float).reshape(n, -1), columns=unique, index=df.index))
    return df


def write_dlc_h5(df, path: str | Path, key: str = "df_with_missing", layout: str = "table") -> Path:
    """``df.to_hdf`` as DeepLabCut calls it: ``layout="table"`` (analysis, tracks) or ``"fixed"`` (labeled data)."""
    path = Path(path)
    mark_synthetic(path.parent)
    if layout == "table":
        df.to_hdf(path, key=key, format="table", mode="w")
    else:
        df.to_hdf(path, key=key, mode="w")
    return path


def write_dlc_csv(df, path: str | Path) -> Path:
    """``df.to_csv(path)``, DeepLabCut's CSV (header rows scorer, [individuals,] bodyparts, coords)."""
    path = Path(path)
    mark_synthetic(path.parent)
    df.to_csv(path)
    return path


def sleap_labels(
    points: np.ndarray,
    nodes: Sequence[str],
    tracks: Sequence[str] | None,
    video_path: str | Path,
    scores: np.ndarray | None = None,
    skeleton_name: str = "skeleton",
):
    """sleap-io ``Labels`` of predictions: ``points`` ``[T, S, K, 2]`` (NaN rows = no instance)."""
    import sleap_io as sio

    points = np.asarray(points, float)
    n, s, k, _ = points.shape
    scores = np.full((n, s, k), 0.9) if scores is None else np.asarray(scores, float)
    names = list(nodes)
    skeleton = sio.Skeleton(names, edges=[(names[i], names[i + 1]) for i in range(k - 1)], name=skeleton_name)
    track_objs = [sio.Track(name=t) for t in tracks] if tracks else []
    vid = sio.Video(filename=str(video_path), open_backend=False)
    frames = []
    for t in range(n):
        instances = []
        for i in range(s):
            if np.isnan(points[t, i]).all():
                continue
            instances.append(
                sio.PredictedInstance.from_numpy(
                    np.c_[points[t, i], scores[t, i]],
                    skeleton=skeleton,
                    track=track_objs[i] if track_objs else None,
                    score=float(np.nanmean(scores[t, i])),
                )
            )
        if instances:
            frames.append(sio.LabeledFrame(video=vid, frame_idx=t, instances=instances))
    return sio.Labels(labeled_frames=frames, videos=[vid], skeletons=[skeleton], tracks=track_objs)


def write_sleap_analysis_h5(labels, path: str | Path, labels_path: str | None = None) -> Path:
    """SLEAP's analysis HDF5 (sleap-io, SLEAP's own "matlab" axis order)."""
    import sleap_io as sio

    mark_synthetic(Path(path).parent)
    sio.save_analysis_h5(labels, str(path), labels_path=labels_path)
    return Path(path)


def write_sleap_analysis_csv(labels, path: str | Path) -> Path:
    """SLEAP's analysis CSV (sleap-io's "sleap" format: track, frame_idx, instance.score, node.x/.y/.score)."""
    import sleap_io as sio

    mark_synthetic(Path(path).parent)
    sio.save_csv(labels, str(path), format="sleap")
    return Path(path)


def write_nwb_pose(
    path: str | Path,
    points: np.ndarray,
    nodes: Sequence[str],
    subjects: Sequence[str],
    video_path: str | Path,
    fps: float,
    confidence: np.ndarray | None = None,
    timestamps: bool = True,
    source_software: str = "DeepLabCut",
    video_link: str = "source_video",
    dlc2nwb: bool = False,
) -> Path:
    """An NWB file with one ndx-pose ``PoseEstimation`` per subject, as DANDI holds them.

    ``points`` ``[T, S, K, 2]``; frames where a subject's node is NaN are left out of its series.
    ``timestamps=True`` writes each series' times (seconds, frame / fps), else ``rate`` and
    ``starting_time``. The video is linked as ndx-pose 0.2+ does (``video_link="source_video"``, an
    external-file ImageSeries) or as older files do (``"original_videos"``, a list of paths).
    ``dlc2nwb=True`` writes what DeepLabCut's DLC2NWB writes: a container named "PoseEstimation",
    keypoints named ``<subject>_<bodypart>``, and every frame (NaN included) at the video's times.
    """
    import datetime
    import uuid

    from ndx_pose import PoseEstimation, PoseEstimationSeries, Skeleton, Skeletons
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.image import ImageSeries

    points = np.asarray(points, float)
    n, s, k, _ = points.shape
    confidence = np.full((n, s, k), 0.9) if confidence is None else np.asarray(confidence, float)
    mark_synthetic(Path(path).parent)
    nwbfile = NWBFile(
        session_description="pose",
        identifier=str(uuid.uuid4()),
        session_start_time=datetime.datetime.now(datetime.timezone.utc),
    )
    behavior = nwbfile.create_processing_module(name="behavior", description="pose estimation")
    camera = nwbfile.create_device(name="camera", description="camera")
    if video_link == "source_video":
        movie = ImageSeries(name="video", external_file=[str(video_path)], format="external", rate=float(fps), num_samples=n,
                            starting_frame=[0])  # fmt: skip
        nwbfile.add_acquisition(movie)
        link = dict(source_video=movie)
    else:
        link = dict(original_videos=[str(video_path)])
    skeletons = []
    for i, subject in enumerate(subjects):
        edges = np.array([[j, j + 1] for j in range(k - 1)], dtype="uint8").reshape(-1, 2)
        node_names = [f"{subject}_{node}" for node in nodes] if dlc2nwb else list(nodes)
        skeleton = Skeleton(name=f"skeleton_{subject}", nodes=node_names, edges=edges)
        skeletons.append(skeleton)
        series = []
        for j, node in enumerate(node_names):
            valid = np.ones(n, bool) if dlc2nwb else ~np.isnan(points[:, i, j]).any(-1)
            frames = np.flatnonzero(valid)
            kwargs = dict(timestamps=frames / fps) if timestamps else dict(rate=float(fps), starting_time=0.0)
            data = points[frames, i, j] if timestamps else points[:, i, j]
            conf = confidence[frames, i, j] if timestamps else confidence[:, i, j]
            series.append(
                PoseEstimationSeries(
                    name=node,
                    description=f"{node} of {subject}",
                    data=data,
                    unit="pixels",
                    reference_frame="(0,0) is the top left corner",
                    confidence=conf,
                    confidence_definition="likelihood",
                    **kwargs,
                )
            )
        behavior.add(
            PoseEstimation(
                name="PoseEstimation" if dlc2nwb else f"PoseEstimation_{subject}",
                pose_estimation_series=series,
                description=f"pose of {subject}",
                device=camera,
                scorer="test",
                source_software=source_software,
                skeleton=skeleton,
                **link,
            )
        )
    behavior.add(Skeletons(skeletons=skeletons))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return Path(path)
