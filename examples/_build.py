"""Write the example notebooks (examples/*.ipynb) from the cells below.

    python examples/_build.py            # (re)write every notebook
    python examples/_build.py --check    # exit 1 if a committed notebook differs from what this writes

The cells here are the source of the notebooks: edit them here, run this script, commit both.
Notebooks are written without outputs, with null execution counts and fixed cell ids, so a
rebuild of unchanged cells changes no byte. tests/integration/test_notebooks.py runs every
notebook top to bottom on its tiny settings and checks that the committed files are clean and
match this script.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def md(text: str):
    return new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text: str):
    return new_code_cell(textwrap.dedent(text).strip("\n"))


#: How notebooks that read the shared samples find them: $VPBEHAVIOR_SHARED, else shared/ beside
#: the repository (Jupyter starts a notebook in its own folder, examples/).
FIND_SHARED = '''
def find_shared() -> Path | None:
    """The project's shared sample data: $VPBEHAVIOR_SHARED, else shared/ beside the repository."""
    for candidate in (os.environ.get("VPBEHAVIOR_SHARED"), "../../shared", "../shared"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate).resolve()
    return None


SHARED = find_shared()
print("shared samples:", SHARED or "not found (the sections that need them say so and are skipped)")
'''

NOTEBOOKS: dict[str, list] = {}

# ----------------------------------------------------------------------------------------- 01
NOTEBOOKS["01_quickstart.ipynb"] = [
    md("""
    # Quickstart: from videos to behavior calls

    This notebook walks the whole path once: **load** an experiment folder, **extract** VideoPrism
    features, **train** a frame-level behavior classifier, **predict** one video, **evaluate** it on
    held-out videos and **plot** the ethogram and the precision-recall curves.

    **What it needs**: vpbehavior installed (`pip install -e .`, see the README). The data is a small
    synthetic experiment written by `vpb.make_experiment`: two animals in an arena, with the exact
    behavior of every animal in every frame, so nothing is downloaded. With `TINY` (the default) the
    encoder is a tiny, randomly initialized VideoPrism and the notebook runs on a CPU in well under a
    minute. For real sizes set the environment variable `VPB_NOTEBOOK_TINY=0` (or `TINY = False`
    below) and switch to the released weights in step 2 (a GPU helps).

    **Your own data**: put your folder where the synthetic one is. `vpb.load` reads a lab folder of
    videos with SLEAP / DeepLabCut pose and BORIS / vpbehavior label files beside them, and the
    CalMS21, Fly vs. Fly, ChimpACT and KABR datasets (`02_dataset_formats.ipynb`).
    """),
    code("""
    import os
    import shutil
    from pathlib import Path

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    import vpbehavior as vpb

    TINY = os.environ.get("VPB_NOTEBOOK_TINY", "1") == "1"  # False: the demo's sizes (minutes on a CPU)
    OUT = Path("outputs") / "01_quickstart"  # everything this notebook writes
    if TINY:
        shutil.rmtree(OUT, ignore_errors=True)  # tiny runs start fresh; real runs reuse data and features

    N_TRAIN, N_TEST, FRAMES, SIZE = (3, 1, 150, 72) if TINY else (6, 2, 600, 96)
    print(f"vpbehavior {vpb.__version__}; tiny settings: {TINY}")
    """),
    md("""
    ## 1. Load

    `vpb.load(folder)` detects the format from the files and returns a `Dataset` of `Recording`s.
    Every format gives the same `Recording`: the video, the subjects (animals), their pose, their
    per-frame `presence`, and `labels` as `frames x subjects x classes` of 1 / 0 / -1 (-1: not
    annotated). Here: a folder of training videos and one of held-out videos, each `synthetic_XX.mp4`
    with its pose (`.slp`, SLEAP's file) and labels (`.behavior.json`) beside it.
    """),
    code("""
    DATA = OUT / "data"
    if not (DATA / "test").is_dir():
        vpb.make_experiment(DATA / "train", n_videos=N_TRAIN, seed=1, height=SIZE, width=SIZE, n_frames=FRAMES)
        vpb.make_experiment(DATA / "test", n_videos=N_TEST, seed=2, height=SIZE, width=SIZE, n_frames=FRAMES)

    train, test = vpb.load(DATA / "train"), vpb.load(DATA / "test")
    print(train)
    print(test)
    rec = train.recordings[0]
    rec
    """),
    code("""
    print("subjects:", rec.subjects, "| fps:", rec.fps, "| frames:", rec.n_frames)
    print("fraction of frames each animal is tracked:", rec.presence.mean(0))
    print(rec.labels)
    print("frames x animals per behavior:", rec.labels.label_counts())
    print("first bouts:", *rec.labels.to_bouts()[:3], sep="\\n  ")
    """),
    code("""
    video = vpb.open_video(rec)  # frame-accurate: video[i] is the i-th decoded frame
    t = rec.n_frames // 2
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(video[t])
    for s, name in enumerate(rec.subjects):
        ax.plot(*rec.pose.points[t, s].T, "o", ms=3, label=name)
    ax.set_title(f"{rec.name}, frame {t}", fontsize=9)
    ax.legend(fontsize=7)
    ax.axis("off")
    plt.show()
    """),
    md("""
    ## 2. Extract features

    VideoPrism turns each clip of frames into tokens; `extract_features` stores per-frame (and, from
    the pose, per-animal) embeddings in an HDF5 cache, once, resumable. The classifiers train on the
    cache in seconds.

    `random:tiny` is a tiny VideoPrism with **random weights**: it runs anywhere in seconds and shows
    that the path works, but its features are close to meaningless, so its numbers below sit near
    chance. The released model is `videoprism_public_v1_base` (fetched once from the Hugging Face
    hub; `04_released_weights.ipynb` shows offline use): uncomment its line. `size=72` is a multiple
    of both models' patch sizes (12 and 18); `size=0` means the model's own resolution (288 px).
    """),
    code("""
    encoder = vpb.load_encoder("random:tiny")
    # encoder = vpb.load_encoder("videoprism_public_v1_base")   # the released model (downloads once)

    FEATURES = OUT / "features"
    extract = vpb.ExtractConfig(size=SIZE if TINY else 0, token_grid=2, batch_size=16)
    result = vpb.extract_features(train.recordings + test.recordings, encoder, extract, cache=FEATURES)
    print("failures:", result.failures)
    sorted(p.name for p in FEATURES.glob("*.h5"))
    """),
    md("""
    ## 3. Train a classifier

    `TrainConfig(kind=...)` picks the features: `"video"` (VideoPrism), `"pose"` (keypoint motion,
    no encoder needed) or `"video+pose"`. The synthetic behaviors are defined by keypoint motion, so
    the pose classifier is the reference point: on the tiny settings there are too few frames for
    either to learn much; with `TINY = False` the pose classifier reaches a held-out mAP near 0.98. A classifier is one file that records which encoder and extraction
    settings its features need.
    """),
    code("""
    recipe = dict(head="mlp", hidden=64, lr=3e-3, batch_size=128, max_epochs=10 if TINY else 20)
    clf = vpb.train_classifier(train.recordings, config=vpb.TrainConfig(kind="video", **recipe), features=FEATURES)
    pose_clf = vpb.train_classifier(train.recordings, config=vpb.TrainConfig(kind="pose", **recipe))
    clf.save(OUT / "classifier_video.safetensors")
    print(clf.classes)
    """),
    md("""
    ## 4. Predict

    `Predictions` hold per-frame, per-animal probabilities (`scores`), the calls after
    post-processing (`calls`) and the bouts. No labels are needed for this step.
    """),
    code("""
    pred = clf.predict(test.recordings[0], features=FEATURES)
    print(pred)
    print("scores:", pred.scores.shape, "(frames, animals, behaviors)")
    print("first predicted bouts:", *pred.bouts()[:3], sep="\\n  ")
    """),
    md("""
    ## 5. Evaluate and plot

    `vpb.evaluate` scores the held-out videos against their labels: mAP, F1, bout-level F1, per
    class. `report.write(folder)` writes `report.json`, `per_class.csv`, `bouts.csv`,
    `pr_curves.png` and `ethogram.png` (true vs. predicted behavior of each animal over time).
    """),
    code("""
    report = vpb.evaluate(clf, test.recordings, features=FEATURES)
    pose_report = vpb.evaluate(pose_clf, test.recordings)
    print("video (random tiny encoder):", report)
    print("pose:                       ", pose_report)
    print(report.summary())
    files = report.write(OUT / "report_video")
    """),
    code("""
    display(Image(filename=files["ethogram"], width=700))
    display(Image(filename=files["pr_curves"], width=380))
    """),
    md("""
    ## The same from the shell

        vpbehavior extract data/train --features feats --weights videoprism_public_v1_base
        vpbehavior train data/train --features feats --kind video --out clf.safetensors
        vpbehavior evaluate data/test --features feats --classifier clf.safetensors --out report
        vpbehavior score new_videos/ --classifier clf.safetensors --out scored   # 03_score_a_folder.ipynb

    Next: `02_dataset_formats.ipynb` (your data), `03_score_a_folder.ipynb` (many videos),
    `04_released_weights.ipynb` (the official model).
    """),
]

# ----------------------------------------------------------------------------------------- 02
NOTEBOOKS["02_dataset_formats.ipynb"] = [
    md("""
    # Dataset formats: one data model for every source

    `vpb.load(path)` reads each supported format into the same `Recording`s, so everything
    downstream (features, classifiers, scoring, napari) is the same for all of them. For each format
    this notebook shows where the files come from, loads a sample and prints `repr(dataset)`, one
    recording, the animals' presence and the labels:

    | format | what | getting it and its layout |
    |---|---|---|
    | CalMS21 | two mice, pose JSON + frame labels | [datasets/calms21/README.md](../datasets/calms21/README.md) |
    | Fly vs. Fly | two flies, `.mat` tracks + action bouts | [datasets/flyvsfly/README.md](../datasets/flyvsfly/README.md) |
    | ChimpACT | chimpanzees, COCO-like keyframe JSON | [datasets/chimpact/README.md](../datasets/chimpact/README.md) |
    | KABR | drone mini-scenes, frame-list CSV | [datasets/kabr/README.md](../datasets/kabr/README.md) |
    | lab folder | your videos + SLEAP / DeepLabCut pose + BORIS / vpbehavior labels | the `vpbehavior.io.folder` docstring |

    **What it needs**: vpbehavior with its dev extras (pandas, for the DeepLabCut file). **Samples**:
    the real files kept in the project's `shared/` folder beside the repository (`shared/datasets`,
    `shared/recordings`; or set `VPBEHAVIOR_SHARED`). A section whose real sample is not there says
    so and is skipped. CalMS21, Fly vs. Fly and ChimpACT have no small redistributable real excerpt,
    so their sections write **synthetic** files in the real layout (`vpbehavior.testing` writers,
    marked `SYNTHETIC.txt`) to show the loading. Runs in seconds; `TINY` changes nothing here but the
    sample sizes.
    """),
    code("""
    import os
    import shutil
    from pathlib import Path

    import numpy as np

    import vpbehavior as vpb

    TINY = os.environ.get("VPB_NOTEBOOK_TINY", "1") == "1"
    OUT = Path("outputs") / "02_dataset_formats"
    shutil.rmtree(OUT, ignore_errors=True)  # only synthetic files live here: always start fresh
    FRAMES = 60 if TINY else 600
    """),
    code(FIND_SHARED),
    code('''
    def show(dataset, max_subjects=4):
        """repr of the dataset and of its first recording, presence and labels, in a few lines."""
        print(repr(dataset))
        for problem in ("failures", "unpaired", "skipped"):
            if getattr(dataset, problem):
                print(f"  {problem}:", *getattr(dataset, problem)[:3], sep="\\n    ")
        rec = dataset.recordings[0]
        print(" ", repr(rec))
        if rec.presence is not None:
            shown = dict(list(zip(rec.subjects, rec.presence.mean(0).round(2).tolist()))[:max_subjects])
            more = f" (+{len(rec.subjects) - max_subjects} more)" if len(rec.subjects) > max_subjects else ""
            print(f"  presence (fraction of frames): {shown}{more}")
        if rec.labels is not None:
            counts = {k: v for k, v in rec.labels.label_counts().items() if v}
            print("  labels:", rec.labels, "| positive frames:", dict(list(counts.items())[:6]))
        return rec
    '''),
    md("""
    ## CalMS21 (mice; synthetic files in the real layout)

    The release is JSON files of 7-keypoint pose for a resident and an intruder mouse with one
    behavior label per frame (the resident's, directed at the intruder). The loader keeps the file's
    own vocabulary and spelling, converts nothing but the frame base, and marks the intruder's rows
    "not annotated". No real excerpt can be redistributed, so a synthetic task-1 tree is written here.
    """),
    code("""
    from vpbehavior.testing.calms21 import write_calms21_dataset

    write_calms21_dataset(OUT / "CalMS21", frames=FRAMES, tasks=(1,), unlabeled_parts=0)
    calms = vpb.load(OUT / "CalMS21")
    rec = show(calms)
    print("splits:", calms.splits, "| test split:", calms.test_split)
    print("directed at:", dict(rec.labels.targets))
    """),
    md("""
    ## Fly vs. Fly (flies)

    Per movie folder: `-track.mat` (positions), `-feat.mat` and `-actions.mat` (bouts of lunges,
    wing threats, ...). The real sample in `shared/` is FlyTracker's behavior list, with its quirks
    (names with spaces, a trailing space, no final newline); the movie files are synthetic.
    """),
    code("""
    from vpbehavior.testing.flyvsfly import write_flyvsfly_dataset

    action_list = SHARED / "datasets" / "flyvsfly" / "action_list.txt" if SHARED else None
    if action_list is not None and action_list.is_file():
        print("real FlyTracker action list:", action_list.read_text().split("\\n"))
    else:
        print("skipped: the real Fly vs. Fly action list (shared/datasets/flyvsfly/action_list.txt) is not here")

    write_flyvsfly_dataset(OUT / "FlyVsFly", n_frames=FRAMES + 20)
    _ = show(vpb.load(OUT / "FlyVsFly"))
    """),
    md("""
    ## ChimpACT (chimpanzees; synthetic files in the real layout)

    Per clip a COCO-like label JSON with boxes, identities, pose and behaviors on every 10th frame
    (keyframes); the loader puts them on the video's frames (`propagate=True` carries keyframe
    labels to the frames between). The labels are released on request only, so this clip is
    synthetic.
    """),
    code("""
    from vpbehavior.testing.chimpact import random_clip, write_release

    clip = "Azibo_ObsChimp_2016_01_01_clip_0_40"
    write_release(OUT, {clip: random_clip(40, seed=3)}, {clip: 40}, videos=True)
    rec = show(vpb.load(OUT / "ChimpACT_release"))
    carried = vpb.load(OUT / "ChimpACT_release", propagate=True)[clip]
    for how, r in (("keyframes only", rec), ("propagate=True", carried)):
        print(f"  {how}: frames with labels {int((r.labels.values >= 0).any(axis=(1, 2)).sum())} of {r.n_frames}")
    """),
    md("""
    ## KABR (zebras and giraffes; real annotation files)

    Mini-scenes (animal-centred crops from drone video) as JPEG folders with Charades-style frame
    lists (`original_vido_id video_id frame_id path labels`, 1-based frames) and `classes.json`.
    The samples are real: 42 rows of the released `train.csv` (without the images, so the recording
    has labels but no video), kabr-tools' CVAT track XML and its per-frame prediction CSV, and a
    mini-scene preview GIF.
    """),
    code("""
    kabr = SHARED / "datasets" / "kabr" if SHARED else None
    if kabr is not None and (kabr / "train_csv_excerpt_ZG0001.1.csv").is_file():
        import warnings

        with warnings.catch_warnings():  # "no image folder found": expected, the excerpt has no images
            warnings.simplefilter("ignore")
            rec = show(vpb.load(kabr / "train_csv_excerpt_ZG0001.1.csv"))
        ids, vocab = rec.labels.to_single_label()
        print("  label per frame (first 10):", [vocab[i] for i in ids[:10, 0]])
        show(vpb.load(kabr / "DJI_tracks.xml"))
        show(vpb.load(kabr / "DJI_0068_miniscene2behavior.csv"))
        gif = vpb.open_video(kabr / "ZP0446-Auto-Groom.gif")
        print("mini-scene preview:", gif, "| first frame", gif[0].shape)
    else:
        print("skipped: the real KABR samples (shared/datasets/kabr) are not here")
    """),
    md("""
    ## A lab folder: videos with SLEAP, DeepLabCut and BORIS files beside them

    Point `vpb.load` at the folder: videos are found by suffix, pose and label files by their
    content, and each is paired with its video by what the file says (a `.slp` names its video, a
    BORIS export its media files) or by the names the tools write (`<video>DLC_<network>...csv`).
    Nothing is dropped silently: files no video claims are in `dataset.unpaired`, tool by-products in
    `dataset.skipped`.

    **Real**: two flies from SLEAP's test data, with SLEAP's predictions (27 track ids: identity
    switches). `tracks=2` keeps the two tracks present in the most frames.
    """),
    code("""
    flies = SHARED / "recordings" / "sleap_fly_pair" if SHARED else None
    if flies is not None and (flies / "centered_pair_predictions.slp").is_file():
        print("SLEAP tracks in the file:", len(vpb.load(flies)["centered_pair_low_quality"].subjects))
        pair = vpb.load(flies, tracks=2)  # two encodes of the video; the .slp names the low-quality one
        fly = show(pair)
        print("  paired by:", *fly.metadata["pairing"])
        print("  the other encode, without pose:", repr(pair["centered_pair_small"]))
    else:
        print("skipped: the real fly recording (shared/recordings/sleap_fly_pair) is not here")
    """),
    md("""
    **Synthetic**: a lab folder with one video whose pose is a SLEAP `.slp` and labels a
    `.behavior.json` (what `make_experiment` and the napari plugin write), and one video whose pose
    is DeepLabCut's CSV and labels a BORIS tabular-events export.
    """),
    code("""
    from vpbehavior.testing.lab_files import dlc_frame, write_dlc_csv

    LAB = OUT / "lab"
    vpb.make_experiment(LAB, n_videos=1, seed=3, height=72, width=72, n_frames=FRAMES)  # SLEAP + .behavior.json
    vpb.make_experiment(OUT / "scratch", n_videos=1, seed=4, height=72, width=72, n_frames=FRAMES)
    source = vpb.load(OUT / "scratch").recordings[0]
    shutil.copy(source.video, LAB / "mouse2.mp4")

    # DeepLabCut's multi-animal CSV: columns (scorer, individuals, bodyparts, x / y / likelihood)
    pose = source.pose
    xy = np.asarray(pose.points)
    values = np.concatenate([xy, np.full(xy.shape[:3] + (1,), 0.95)], axis=-1)
    dlc = dlc_frame(values, pose.keypoint_names, pose.subjects)
    write_dlc_csv(dlc, LAB / "mouse2DLC_resnet50_labJan1shuffle1_100000.csv")  # <video>DLC_<network>...csv

    # a BORIS tabular-events export: one START and one STOP row per bout, times in seconds
    columns = ["Observation id", "Observation date", "Description", "Observation duration", "Observation type",
               "Source", "Time offset (s)", "Media duration (s)", "FPS", "Subject", "Behavior",
               "Behavioral category", "Behavior type", "Time", "Media file name", "Image index",
               "Image file path", "Comment"]  # fmt: skip
    duration = f"{FRAMES / 30:.3f}"
    events = [("animal0", "grooming", "START", 0.2), ("animal0", "grooming", "STOP", 0.9),
              ("animal1", "chase", "START", 1.0), ("animal1", "chase", "STOP", 1.6)]  # fmt: skip
    observation = ["mouse2_obs", "2024-03-01 09:30:00", "", duration, "Media file(s)", "player #1:mouse2.mp4", "0.000"]
    rows = ["\\t".join(columns)]
    for subject, behavior, status, time in events:
        event = [duration, "30.000", subject, behavior, "", status, f"{time:.3f}", "mouse2.mp4", "NA", "NA", ""]
        rows.append("\\t".join(observation + event))
    (LAB / "mouse2_obs.tsv").write_text("\\n".join(rows) + "\\n")
    sorted(p.name for p in LAB.iterdir())
    """),
    code("""
    lab = vpb.load(LAB)
    print(repr(lab))
    for rec in lab.recordings:
        print(" ", repr(rec))
        print("    pose:", Path(rec.metadata["pose_file"]).name, "| labels:",
              [Path(p).name for p in rec.metadata["label_files"]], "| paired by:", rec.metadata["pairing"])  # fmt: skip
    print("mouse2 bouts from BORIS:", *lab["mouse2"].labels.to_bouts(), sep="\\n  ")
    """),
    md("""
    Every dataset also has a command-line view: `vpbehavior inspect path/to/data --recordings`
    (recordings, frames, classes and the files paired to each video).
    """),
]

# ----------------------------------------------------------------------------------------- 03
NOTEBOOKS["03_score_a_folder.ipynb"] = [
    md("""
    # Score a folder of new videos

    A trained classifier over every video of a folder with one call, `vpb.score(folder,
    classifier_file, out)` (the `vpbehavior score` command). It writes, per video, a predictions file
    (`<video>.predictions.h5`), a bouts table and an ethogram; per folder `summary.csv` (time budget
    per video, animal and behavior), `failures.csv`, `score.json` and `report.html`. A rerun only
    does what is missing or stale; a video that fails is listed and the others go on. Then the
    results are read back with pandas and `vpb.read_predictions`, and plotted as a time budget per
    animal.

    **What it needs**: vpbehavior with its dev extras (pandas). The videos are synthetic
    (`vpb.make_experiment`) and the encoder is the tiny random one, so it runs on a CPU in seconds.
    `VPB_NOTEBOOK_TINY=0` gives longer videos; with the released weights, train the classifier on
    their features (`01_quickstart.ipynb`) and the same call scores with them.
    """),
    code("""
    import os
    import shutil
    from pathlib import Path

    import matplotlib.pyplot as plt
    import pandas as pd

    import vpbehavior as vpb

    TINY = os.environ.get("VPB_NOTEBOOK_TINY", "1") == "1"
    OUT = Path("outputs") / "03_score_a_folder"
    if TINY:
        shutil.rmtree(OUT, ignore_errors=True)
    N_TRAIN, N_NEW, FRAMES, SIZE = (3, 2, 150, 72) if TINY else (6, 4, 1800, 96)
    """),
    md("""
    ## A classifier, and a folder of new videos

    The classifier is trained as in the quickstart. The new videos have their pose files but no
    labels: scoring does not need labels.
    """),
    code("""
    synth = dict(height=SIZE, width=SIZE, n_frames=FRAMES)
    vpb.make_experiment(OUT / "train", n_videos=N_TRAIN, seed=1, **synth)
    NEW = OUT / "new_videos"
    vpb.make_experiment(NEW, n_videos=N_NEW, seed=2, **synth)
    for labels_file in NEW.glob("*.behavior.json"):
        labels_file.unlink()

    encoder = vpb.load_encoder("random:tiny")
    train = vpb.load(OUT / "train").recordings
    extract = vpb.ExtractConfig(size=SIZE, token_grid=0, batch_size=16)
    vpb.extract_features(train, encoder, extract, cache=OUT / "features")
    clf = vpb.train_classifier(train, config=vpb.TrainConfig(kind="video", hidden=64, max_epochs=10),
                               features=OUT / "features")  # fmt: skip
    CLASSIFIER = clf.save(OUT / "classifier.safetensors")
    print(CLASSIFIER, "|", clf.classes)
    """),
    md("""
    ## Score

    The classifier file says which encoder and extraction settings its features need, so scoring
    computes the same features; `ScoreConfig` holds the options (device, workers, shards for SLURM
    array jobs, exports to BORIS / SLEAP / NWB / CSV). From the shell:

        vpbehavior score new_videos --classifier classifier.safetensors --out scored --export boris
    """),
    code("""
    SCORED = OUT / "scored"
    result = vpb.score(NEW, CLASSIFIER, SCORED, vpb.ScoreConfig(batch_size=16, export="boris"))
    print("scored:", result.scored, "| failures:", result.failures)
    sorted(p.name for p in SCORED.iterdir() if p.is_file())
    """),
    md("""
    ## Read the results

    `summary.csv` has one row per video x animal x behavior: the time the animal was present, the
    time in the behavior (seconds and % of the present time), bout count, mean and median bout
    length and the latency to the first bout.
    """),
    code("""
    summary = pd.read_csv(SCORED / "summary.csv")
    summary[["video", "subject", "behavior", "present_s", "time_s", "time_pct", "bouts", "latency_s"]].head(8)
    """),
    md("""
    `vpb.read_predictions` gives one video's `Predictions`: probabilities and calls per frame,
    animal and behavior, and the bouts. The same bouts are in `<video>.bouts.csv`.
    """),
    code("""
    name = result.scored[0]
    pred = vpb.read_predictions(SCORED / f"{name}.predictions.h5")
    print(pred, "| scores", pred.scores.shape, "| subjects", pred.subjects)
    bouts = pd.DataFrame([vars(b) for b in pred.bouts()])
    bouts["seconds"] = (bouts["stop"] - bouts["start"]) / pred.fps
    print(len(bouts), "bouts; the longest:")
    bouts.sort_values("seconds", ascending=False).head(5)
    """),
    code("""
    pd.read_csv(SCORED / f"{name}.bouts.csv").head(3)
    """),
    code("""
    # per-frame probabilities of the first animal as a table (frames x behaviors)
    probabilities = pd.DataFrame(pred.scores[:, 0], columns=pred.classes)
    probabilities.index = probabilities.index / pred.fps
    ax = probabilities.plot(figsize=(8, 2.5), lw=0.8, legend=False, title=f"{name}, {pred.subjects[0]}")
    ax.set(xlabel="time (s)", ylabel="probability")
    ax.legend(fontsize=6, ncol=4, loc="upper right")
    plt.show()
    """),
    md("""
    ## Time budget per animal

    The percentage of its present time each animal spends in each behavior, from `summary.csv`.
    Each behavior is called on its own, so where calls overlap a bar can pass 100%. (With the
    random tiny encoder the calls are near chance: the plot shows the layout, not biology.)
    """),
    code("""
    budget = summary.pivot_table(index=["video", "subject"], columns="behavior", values="time_pct", aggfunc="sum")
    budget = budget[[c for c in pred.classes if c in budget.columns]]  # the classifier's order, not alphabetical
    ax = budget.plot.barh(stacked=True, figsize=(7, 0.4 * len(budget) + 1.2), width=0.8, colormap="tab20")
    ax.set(xlabel="% of present time", ylabel="")
    ax.legend(fontsize=7, bbox_to_anchor=(1.0, 1.0), loc="upper left")
    plt.show()
    """),
    md("""
    Also in the output folder: `report.html` (the summary and every ethogram in one offline file),
    `<video>.ethogram.png`, and the exports asked for (`<video>.boris.tsv` here, which BORIS
    imports). In napari, opening `scored/synthetic_00.predictions.h5` opens its video with the calls
    in the ethogram under it. `vpb.export_file(predictions_file, "slp")` exports later.
    """),
]

# ----------------------------------------------------------------------------------------- 04
NOTEBOOKS["04_released_weights.ipynb"] = [
    md("""
    # The released VideoPrism weights

    How to get Google's official VideoPrism weights into vpbehavior, use them offline, check the
    port against the official Flax model, and get embeddings for one clip with
    `vpbehavior.models.VideoPrism`.

    **What it needs**: for the released model, a network connection once (the weights come from the
    Hugging Face hub through `huggingface_hub`) and about 0.5 GB of disk for the base model. This
    notebook itself needs no network: its `WEIGHTS` parameter defaults to the tiny random model.
    Run it with the released one by setting the environment variable `VPB_NOTEBOOK_TINY=0` or
    `VPB_NOTEBOOK_WEIGHTS=videoprism_public_v1_base` (or a local `.npz` / `.safetensors` path).
    The parity check uses the tiny official-model fixtures in the project's `shared/` folder and is
    skipped when they are not there.

    | name | hub repo / file | parameters |
    |---|---|---|
    | `videoprism_public_v1_base` | `google/videoprism-base-f16r288` / `flax_base_f16r288_repeated.npz` | 114 M |
    | `videoprism_public_v1_large` | `google/videoprism-large-f8r288` / `flax_large_f8r288_repeated.npz` | 354 M |
    | `videoprism_lvt_public_v1_base` | `google/videoprism-lvt-base-f16r288` (video-text) | 248 M |
    | `videoprism_lvt_public_v1_large` | `google/videoprism-lvt-large-f8r288` (video-text) | 580 M |
    """),
    code("""
    import os
    import shutil
    from pathlib import Path

    import numpy as np
    import torch

    import vpbehavior as vpb
    from vpbehavior.models import VideoPrism

    TINY = os.environ.get("VPB_NOTEBOOK_TINY", "1") == "1"
    # the weights to load: a released name, a hub repo id, a local .npz / .safetensors, or random:<config>
    WEIGHTS = os.environ.get("VPB_NOTEBOOK_WEIGHTS", "random:tiny" if TINY else "videoprism_public_v1_base")
    OUT = Path("outputs") / "04_released_weights"
    shutil.rmtree(OUT, ignore_errors=True)
    """),
    code(FIND_SHARED),
    md("""
    ## Getting the weights

    By name (downloaded once into the Hugging Face cache, `~/.cache/huggingface`, then read from it):

    ```python
    encoder = vpb.load_encoder("videoprism_public_v1_base")              # for extraction (vpb.extract_features)
    model = VideoPrism.from_pretrained("videoprism_public_v1_base")      # the same model class
    model = VideoPrism.from_pretrained("google/videoprism-base-f16r288") # by hub repo id
    ```

    From a local file (the official Flax `.npz`, or a `.safetensors` that vpbehavior wrote):

    ```python
    model = VideoPrism.from_flax("flax_base_f16r288_repeated.npz")       # config inferred from the shapes
    encoder = vpb.load_encoder("weights/flax_base_f16r288_repeated.npz") # any --weights argument takes a path
    ```

    **Offline** (a cluster node without internet): download on a machine that has it, then copy.

        huggingface-cli download google/videoprism-base-f16r288 flax_base_f16r288_repeated.npz --local-dir weights/
        vpbehavior extract data/ --features feats --weights weights/flax_base_f16r288_repeated.npz

    or copy the Hugging Face cache folder and set `HF_HUB_OFFLINE=1`
    (`VideoPrism.from_pretrained(name, local_files_only=True)` does the same for one call). Without
    the network and without the file in the cache, loading fails at once with a one-line message
    saying which file to download and where to put it.
    """),
    code("""
    encoder = vpb.load_encoder(WEIGHTS, device="cpu")  # a VideoPrism: a torch.nn.Module in eval mode
    assert isinstance(encoder, VideoPrism)
    print(f"{encoder.origin}: {encoder.num_frames} frames of {encoder.image_size} px, patch {encoder.patch_size}, "
          f"width {encoder.model_dim}, {sum(p.numel() for p in encoder.parameters()) / 1e6:.2f} M parameters")  # fmt: skip
    """),
    md("""
    ## Embeddings of one clip

    The model takes `video [B, T, H, W, 3]` in [0, 1] (RGB) and returns `embeddings [B, T * N, D]`:
    `N` tokens per frame (a 16 x 16 patch grid at 288 px for base), token `t * N + n`. This is what
    `vpb.extract_features` does for every clip of every video (plus resizing, batching, pooling
    per animal and the cache); for a one-off, the model is enough.
    """),
    code("""
    video_file = vpb.make_experiment(OUT / "clip", n_videos=1, seed=0, height=96, width=96, n_frames=48)[0]
    reader = vpb.open_video(video_file)
    T, S = encoder.num_frames, encoder.image_size
    frames = np.stack([reader[i] for i in range(8, 8 + T)])  # [T, H, W, 3] uint8
    clip = torch.from_numpy(frames).float().div(255).permute(0, 3, 1, 2)
    clip = torch.nn.functional.interpolate(clip, size=(S, S), mode="bilinear", antialias=True)
    clip = clip.permute(0, 2, 3, 1).unsqueeze(0)  # [1, T, S, S, 3] in [0, 1]

    with torch.inference_mode():
        out = encoder(clip)
    tokens = out.embeddings[0].reshape(T, -1, encoder.model_dim)  # [T, N, D]
    per_frame = torch.nn.functional.normalize(tokens.mean(1), dim=-1)  # one embedding per frame
    clip_embedding = torch.nn.functional.normalize(tokens.mean((0, 1)), dim=-1)  # one embedding for the clip
    print("clip", tuple(clip.shape), "-> tokens", tuple(out.embeddings.shape), "-> per frame", tuple(per_frame.shape),
          "-> per clip", tuple(clip_embedding.shape))  # fmt: skip
    note = "(random weights: no meaning)" if WEIGHTS.startswith("random:") else ""
    print("first values of the clip embedding:", clip_embedding[:4].numpy().round(3), note)
    """),
    md("""
    ## Parity with the official model

    vpbehavior's VideoPrism is a port of the official JAX/Flax code. The project keeps tiny
    official-architecture checkpoints with the outputs the unmodified Flax model computed for them
    (`shared/fixtures/videoprism_parity`, random weights): the same converter that reads the released
    `.npz` must reproduce those outputs to float32 precision (the unit tests check this on every
    change, `tests/unit/models/test_parity.py`).
    """),
    code("""
    fixtures = SHARED / "fixtures" / "videoprism_parity" if SHARED else None
    if fixtures is not None and (fixtures / "tiny_video_params.npz").is_file():
        official = VideoPrism.from_flax(fixtures / "tiny_video_params.npz")
        reference = np.load(fixtures / "tiny_video_io.npz")
        with torch.inference_mode():
            ours = official(torch.from_numpy(reference["inputs"])).embeddings.numpy()
        print("inputs", reference["inputs"].shape, "| max |torch - flax| of the embeddings:",
              f"{np.abs(ours - reference['embeddings']).max():.1e}")  # fmt: skip
    else:
        print("skipped: the parity fixtures (shared/fixtures/videoprism_parity) are not here")
    """),
    md("""
    ## Saving a copy

    `model.save` writes safetensors (no pickles: safe to share), with the config in the header;
    any `--weights` argument and `vpb.load_encoder` read it back. Reading it is faster than the
    `.npz`, and it is also what pretraining and fine-tuning write (`05_pretraining.ipynb`).
    """),
    code("""
    saved = encoder.save(OUT / "encoder.safetensors")
    again = vpb.load_encoder(str(saved), device="cpu")
    same = all(torch.equal(a, b) for a, b in zip(encoder.state_dict().values(), again.state_dict().values()))
    print(saved.name, f"{saved.stat().st_size / 1e6:.1f} MB | identical weights: {same}")
    """),
]

# ----------------------------------------------------------------------------------------- 05
NOTEBOOKS["05_pretraining.ipynb"] = [
    md("""
    # Pretraining and fine-tuning the encoder on your own footage

    VideoPrism's two pretraining stages and end-to-end fine-tuning, for labs with GPUs and many
    unlabelled hours (details and the choices the paper leaves open: `docs/pretraining.md`):

    - **stage 1**, video-text contrastive: clips and captions (a manifest, or captions made from
      behavior labels), trains the LvT video-text model;
    - **stage 2**, masked distillation: a frozen teacher (the released LvT model) and a student that
      sees masked clips; no captions needed, so this is the common lab path;
    - **fine-tuning**: encoder + head end to end on labelled clips.

    Each writes a `.safetensors` encoder that loads wherever weights are accepted, with how it was
    made in its header.

    **What it needs**: the real runs need GPUs and the released weights (`04_released_weights.ipynb`).
    This notebook runs a **CPU-sized** version of each (tiny models from scratch, 4-frame 36 px
    clips, 10 steps) on synthetic videos in under a minute: it shows the calls, the outputs and how
    they plug in, not what pretraining is worth (for that: `benchmarks/pretrain_synthetic.py`).
    """),
    md("""
    ## The real commands (GPU)

    Stage 2 alone, the released video-text model as teacher and starting point:

        vpbehavior pretrain stage2 rig_videos/ --out adapted --steps 20000 --batch-size 64
        vpbehavior extract experiment/ --features feats --weights adapted/stage2_encoder.safetensors

    On many GPUs, the same command through torchrun (DDP; `--fsdp` shards the large model):

        torchrun --nproc-per-node 8 -m vpbehavior.cli pretrain stage2 rig_videos/ --out adapted --batch-size 512

    Stage 1 needs the text tower's SentencePiece model (`c4_en`, not shipped) and captions:

        vpbehavior pretrain stage1 labelled/ --tokenizer c4_en.model --species mouse --out s1
        vpbehavior finetune labelled/ --weights adapted/stage2_encoder.safetensors --out ft --steps 2000

    Every config field is a flag and a key of a `--config` YAML file; rerunning a command resumes
    from its newest checkpoint. On a SLURM cluster see `docs/cluster.md`.
    """),
    code("""
    import os
    import shutil
    from pathlib import Path

    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    import vpbehavior as vpb
    from vpbehavior.testing.tokenizer import train_sentencepiece

    TINY = os.environ.get("VPB_NOTEBOOK_TINY", "1") == "1"  # False: released weights, paper-sized clips (GPU)
    OUT = Path("outputs") / "05_pretraining"
    if TINY:
        shutil.rmtree(OUT, ignore_errors=True)  # tiny runs start fresh; real runs resume from checkpoints

    if TINY:  # tiny models from scratch, 4-frame 36 px clips, decoding in this process
        RUN = dict(frames=4, size=36, batch_size=4, workers=0, warmup_steps=1, log_every=1, checkpoint_every=100,
                   min_crop=1.0, hflip=False, device="cpu")  # fmt: skip
        STEPS, LVT, VIDEO_SIZE = 10, "random:tiny_lvt", 48
    else:  # the released models, 16-frame 288 px clips; steps far below a real run's
        RUN = dict(batch_size=32, workers=4, warmup_steps=100, log_every=10, checkpoint_every=500)
        STEPS, LVT, VIDEO_SIZE = 1000, "videoprism_lvt_public_v1_base", 96
    """),
    md("""
    ## Data

    Anything `vpb.load` reads, plain folders of videos, or video files. Here: synthetic labelled
    videos, used unlabelled for stage 2 and with their labels for captions (stage 1) and
    fine-tuning.
    """),
    code("""
    VIDEOS = OUT / "videos"
    vpb.make_experiment(VIDEOS, n_videos=3, seed=5, height=VIDEO_SIZE, width=VIDEO_SIZE, n_frames=64 if TINY else 600,
                        body_length=9 if TINY else None, fps=8 if TINY else 30)  # fmt: skip
    DATA = [str(VIDEOS)]
    """),
    md("""
    ## Stage 1: video-text contrastive

    Captions are made from the labels at each clip's middle frame ("animal0 chases animal1", ...).
    The released LvT models need the `c4_en` SentencePiece model; the CPU run trains a 40-piece
    tokenizer on the caption words instead (the tiny text tower has 64 embeddings). Set
    `VPB_NOTEBOOK_TOKENIZER` to a `c4_en` `.model` file for the real run.
    """),
    code("""
    if TINY:
        words = "the animal0 animal1 animal2 is idle grooming approaches retreats circling chases flees attacks and shows a an".split()
        lines = [" ".join(np.random.default_rng(i).permutation(words)) + "." for i in range(300)]
        TOKENIZER = str(train_sentencepiece(lines, OUT / "tokenizer", vocab_size=40))
    else:
        TOKENIZER = os.environ.get("VPB_NOTEBOOK_TOKENIZER")

    if TOKENIZER:
        stage1 = vpb.pretrain("stage1", data=DATA, out=str(OUT / "stage1"), weights=LVT, tokenizer=TOKENIZER,
                              steps=STEPS, lr=1e-3 if TINY else 1e-4, clip_stride=24 if TINY else 0, **RUN)  # fmt: skip
        TEACHER = str(stage1.outputs[0])
        print(stage1.outputs[0], f"loss {stage1.losses[0]:.3f} -> {stage1.final_loss:.3f}")
    else:
        print("stage 1 skipped: set VPB_NOTEBOOK_TOKENIZER to the c4_en SentencePiece model")
        TEACHER = LVT
    """),
    md("""
    ## Stage 2: masked distillation

    The teacher here is the stage-1 model just trained (in a lab: the released
    `videoprism_lvt_public_v1_base`); the student starts from the teacher's video encoder.
    """),
    code("""
    stage2 = vpb.pretrain("stage2", data=DATA, out=str(OUT / "stage2"), weights=TEACHER, steps=STEPS,
                          lr=2e-3 if TINY else 1e-4, decoder_layers=1 if TINY else 4,
                          clip_stride=28 if TINY else 0, **RUN)  # fmt: skip
    print(stage2.outputs[0], f"loss {stage2.losses[0]:.3f} -> {stage2.final_loss:.3f} in {stage2.seconds:.1f} s")
    """),
    code("""
    # metrics.csv: loss and its parts, learning rate, gradient norm, clips/s (and MFU, memory on GPUs)
    metrics = pd.read_csv(stage2.metrics_file)
    ax = metrics.plot(x="step", y=["loss", "global_loss", "token_loss"], figsize=(5, 2.5), title="stage 2")
    ax.set(ylabel="loss")
    plt.show()
    """),
    code("""
    # the same call again resumes from the newest checkpoint; here the run is complete, so nothing is left to do
    again = vpb.pretrain("stage2", data=DATA, out=str(OUT / "stage2"), weights=TEACHER, steps=STEPS,
                         lr=2e-3 if TINY else 1e-4, decoder_layers=1 if TINY else 4,
                         clip_stride=28 if TINY else 0, **RUN)  # fmt: skip
    print("resumed from step", again.resumed_from, "| new steps:", len(again.losses))
    """),
    md("""
    ## Fine-tuning

    Encoder and head, end to end, on clips whose middle frame is labelled (the encoder at a tenth of
    the head's learning rate). The outputs: `finetuned_encoder.safetensors` (an encoder like any
    other) and `finetuned_head.safetensors`.
    """),
    code("""
    finetuned = vpb.finetune(data=DATA, out=str(OUT / "finetune"), weights=str(stage2.outputs[0]), steps=STEPS,
                             lr=3e-3 if TINY else 1e-3, clip_stride=8 if TINY else 0, **RUN)  # fmt: skip
    encoder_file = finetuned.outputs[0]
    provenance = vpb.read_provenance(encoder_file)
    print({k: provenance[k] for k in ("stage", "started_from", "steps", "classes")})
    """),
    md("""
    ## The new encoder plugs in anywhere

    `vpb.load_encoder(path)` (or `--weights path`): extraction, classifier training and scoring
    work as with the released weights.
    """),
    code("""
    encoder = vpb.load_encoder(str(encoder_file))
    recordings = vpb.load(VIDEOS).recordings
    features = OUT / "features"
    vpb.extract_features(recordings, encoder, vpb.ExtractConfig(size=36 if TINY else 0, token_grid=0), cache=features)
    clf = vpb.train_classifier(recordings[:2], config=vpb.TrainConfig(kind="video", hidden=32, max_epochs=10),
                               features=features)  # fmt: skip
    print(clf.feature_spec["encoder"]["model"])
    vpb.evaluate(clf, recordings[2:], features=features)
    """),
]

# ----------------------------------------------------------------------------------------- 06
NOTEBOOKS["06_text_search.ipynb"] = [
    md("""
    # Zero-shot text search

    Find moments by describing them: VideoPrism's video-text model (LvT) embeds clips and sentences
    in one space, so a query ranks clips without any labels or training.

    - `vpb.search(data, queries, model, tokenizer=...)`: the best clips for each query, over a
      whole folder (`SearchResults`: `.hits`, `.to_pandas()`, `.write(out, labels=True)`);
    - `vpb.TextSearch(...).trace(recording, queries)`: per-frame similarity, to plot under the video;
    - `vpb.TextSearch(...).zero_shot(recording, behaviors)`: per-frame probabilities over a list of
      behaviors, as a classifier's `Predictions`.

    Clip embeddings are computed once per video and cached, so new queries are instant.

    **The real setup**: the released video-text model `videoprism_lvt_public_v1_base` (downloads
    once, `04_released_weights.ipynb`) and its text tower's SentencePiece model `c4_en`
    (`gs://t5-data/vocabs/cc_en.32000/sentencepiece.model`, not shipped): set
    `VPB_NOTEBOOK_TINY=0` and `VPB_NOTEBOOK_TOKENIZER=path/to/c4_en.model`. A GPU helps for long videos.

    **Here, on a CPU** (the default): the tiny LvT checkpoint of the official architecture from the
    project's parity fixtures (`shared/fixtures/videoprism_parity`; random weights, so the hits are
    arbitrary: this shows the mechanics, not the quality), 4-frame clips at 36 px, and a tokenizer
    trained on the fly. Without the fixtures it uses a random tiny LvT model. Runs in seconds.
    """),
    code("""
    import os
    import shutil
    from pathlib import Path

    import matplotlib.pyplot as plt
    import numpy as np

    import vpbehavior as vpb
    from vpbehavior.models import VideoPrism
    from vpbehavior.testing.tokenizer import train_sentencepiece

    TINY = os.environ.get("VPB_NOTEBOOK_TINY", "1") == "1"
    OUT = Path("outputs") / "06_text_search"
    if TINY:
        shutil.rmtree(OUT, ignore_errors=True)
    """),
    code(FIND_SHARED),
    code("""
    if TINY:
        fixture = SHARED / "fixtures" / "videoprism_parity" / "tiny_lvt_params.npz" if SHARED else None
        if fixture is not None and fixture.is_file():
            model = VideoPrism.from_flax(fixture).eval()  # the tiny official-architecture LvT checkpoint
        else:
            print("the tiny LvT fixture is not here: using a random tiny LvT model")
            model = vpb.load_encoder("random:tiny_lvt", device="cpu")
        words = "a an the video of animal mouse two mice is grooming chasing another fighting resting idle circling".split()
        lines = [" ".join(np.random.default_rng(i).permutation(words)) + "." for i in range(300)]
        tokenizer = train_sentencepiece(lines, OUT / "tokenizer", vocab_size=40)
        config = vpb.SearchConfig(size=36, top=3, device="cpu")  # 36 px: the tiny model's 3 x 3 patch grid
    else:
        model = vpb.load_encoder("videoprism_lvt_public_v1_base")
        tokenizer = os.environ.get("VPB_NOTEBOOK_TOKENIZER", "c4_en.model")
        config = vpb.SearchConfig(top=5)
    print(type(model).__name__, model.config.name, f"| clips of {model.num_frames} frames")
    """),
    code("""
    VIDEOS = OUT / "videos"
    vpb.make_experiment(VIDEOS, n_videos=2, seed=3, height=72, width=72, n_frames=120 if TINY else 900)
    data = vpb.load(VIDEOS)
    print(data)
    """),
    md("""
    ## Search a folder

    A query is a string; `"name: phrasing | phrasing"` averages several phrasings under one name.
    Hits never overlap in time. `write(out, labels=True)` writes `hits.csv`, `hits.json`,
    `hits.html` (with thumbnails) and the hits as `candidates/<video>.behavior.json` label files to
    check and correct in napari, then train a classifier on.
    """),
    code("""
    queries = ["grooming: a mouse grooming | an animal grooming", "chasing: a mouse chasing another mouse"]
    found = vpb.search(data, queries, model, tokenizer=tokenizer, config=config, cache=OUT / "clips")
    print(len(found.hits), "hits; best:", found.hits[0])
    found.to_pandas().drop(columns="video")  # end_frame is inclusive, as a person reads it
    """),
    code("""
    written = found.write(OUT / "search", labels=True)
    {kind: path.name for kind, path in written.items()}
    """),
    md("""
    ## Per-frame similarity and zero-shot calls

    `TextSearch` keeps the model, the tokenizer and the clip cache for many calls. `trace` gives each
    frame the similarity of the clips that cover it; `zero_shot` turns the similarities to a list of
    behaviors into per-frame probabilities (softmax of cosine / temperature) and calls the most
    probable one, as frame-level `Predictions` (subject `"all"`).
    """),
    code("""
    engine = vpb.TextSearch(model, tokenizer, config, cache=OUT / "clips")  # reuses the cached clip embeddings
    rec = data.recordings[0]
    trace = engine.trace(rec, ["grooming", "chasing"])  # [frames, queries]
    fig, ax = plt.subplots(figsize=(8, 2.2))
    seconds = np.arange(rec.n_frames) / rec.fps
    for q, name in enumerate(["grooming", "chasing"]):
        ax.plot(seconds, trace[:, q], lw=1, label=name)
    truth = rec.labels.positive[:, :, rec.labels.class_index("grooming")].any(1)
    ax.fill_between(seconds, np.nanmin(trace), np.nanmax(trace), where=truth, color="0.88", zorder=0,
                    label="true grooming")  # fmt: skip
    ax.set(xlabel="time (s)", ylabel="cosine similarity", title=rec.name)
    ax.legend(fontsize=7, loc="upper right")
    plt.show()
    """),
    code("""
    behaviors = ["idle", "grooming", "chase", "attack"]
    pred = engine.zero_shot(rec, behaviors)
    print(pred, "| subjects:", pred.subjects)
    # agreement with the labels, frame by frame: is the called behavior shown by any animal in that frame?
    shown = np.stack([rec.labels.positive[:, :, rec.labels.class_index(b)].any(1) for b in behaviors], 1)
    called = pred.calls[:, 0]
    print(f"frames whose call some animal shows: {(called & shown).any(1).mean():.2f} "
          f"(calling the most common behavior everywhere: {shown.mean(0).max():.2f})")  # fmt: skip
    """),
    md("""
    Zero-shot predictions are measured like a classifier's: `vpb.zero_shot(..., out=folder)` writes
    one predictions file per video (the format `vpb.score` writes) and `vpb.evaluate_predictions`
    compares predictions with the labels (frame-level calls against "any animal does it").
    """),
    code("""
    preds, failed = vpb.zero_shot(data, behaviors, engine, out=OUT / "zero_shot")
    report = vpb.evaluate_predictions(OUT / "zero_shot", data.recordings)
    print(report)
    report.to_dict()["per_class"][:2]
    """),
    md("""
    From the shell: `vpbehavior search experiment/ "a mouse grooming" --tokenizer c4_en.model --out found`
    (`vpbehavior search --help` for the flags), and `vpbehavior search experiment/ idle grooming chase
    --zero-shot --tokenizer c4_en.model --out zs` then `vpbehavior evaluate experiment/ --predictions zs
    --out zs_report`. In napari, the text-search panel runs the same engine
    on the video on screen: the hits in a list, each query's similarity as a lane of the ethogram.
    """),
]


# ----------------------------------------------------------------------------------------- writing
def build(cells: list) -> nbformat.NotebookNode:
    nb = new_notebook(
        cells=cells,
        metadata={"kernelspec": KERNELSPEC, "language_info": {"name": "python", "pygments_lexer": "ipython3"}},
    )
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # fixed ids: a rebuild of unchanged cells changes no byte
    nbformat.validate(nb)
    return nb


def render(cells: list) -> str:
    return nbformat.writes(build(cells)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report notebooks that differ from their cells here")
    args = parser.parse_args(argv)
    stale = []
    for name, cells in NOTEBOOKS.items():
        path = HERE / name
        text = render(cells)
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
        elif not path.is_file() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print("out of date (run python examples/_build.py):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
