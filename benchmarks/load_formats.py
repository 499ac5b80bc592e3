"""Load time and peak memory of the dataset loaders, printed as one table.

Usage::

    python benchmarks/load_formats.py [--frames 100000] [--keep DIR]

Each section is a function in ``BENCHMARKS`` that returns rows (dicts with the keys of
``COLUMNS``); add a format by appending one. Every measured case runs in a fresh Python
process: ``seconds`` is its wall time, ``peak_MB`` its peak resident memory *above* what the
process held after its imports (``VmHWM``), so cases do not see each other's memory.
The input files are SYNTHETIC, written by ``vpbehavior.testing`` in the real layout.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ("format", "case", "frames", "file_MB", "seconds", "peak_MB")


def _maxrss_mb() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss it is not inherited
    from the parent across fork + exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --------------------------------------------------------------------------------------------
# Cases (run in a child process: ``load_formats.py --case NAME PATH``)
# --------------------------------------------------------------------------------------------


def _case_calms21_json_load(path: Path) -> int:
    """Baseline: ``json.load`` of the whole file, then numpy arrays per sequence."""
    import numpy as np

    with open(path) as fh:
        obj = json.load(fh)
    frames = 0
    arrays = []
    for group in obj.values():
        for seq in group.values():
            arrays.append(np.asarray(seq["keypoints"], np.float32))
            frames += len(seq["keypoints"])
    return frames


def _case_calms21_first_load(path: Path) -> int:
    """vpbehavior: streaming parse, one sequence decoded at a time, cache written."""
    from vpbehavior.io.calms21 import load_calms21

    return sum(r.n_frames for r in load_calms21(path, videos="skip"))


def _case_calms21_cached_load(path: Path) -> int:
    """vpbehavior: second load, arrays read from the .npz cache."""
    return _case_calms21_first_load(path)


CASES: dict[str, Callable[[Path], int]] = {
    "calms21_json_load": _case_calms21_json_load,
    "calms21_first_load": _case_calms21_first_load,
    "calms21_cached_load": _case_calms21_cached_load,
}


def _run_case(name: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--case", name, str(path)], capture_output=True, text=True, check=True, cwd=REPO
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def bench_calms21(workdir: Path, frames: int = 100_000) -> list[dict]:
    """A CalMS21 task-1 JSON with ``frames`` frames in 10 sequences."""
    import numpy as np

    from vpbehavior.testing.calms21 import write_task_file

    path = workdir / "calms21" / "calms21_task1_train.json"
    n_seq = 10
    lengths = [frames // n_seq + (1 if i < frames % n_seq else 0) for i in range(n_seq)]
    write_task_file(path, 1, "train", list(range(1, n_seq + 1)), lengths, np.random.default_rng(0))
    cache = path.with_name(path.name + ".vpbehavior-cache.npz")
    cache.unlink(missing_ok=True)
    rows = []
    labels = {
        "calms21_json_load": "json.load whole file (baseline)",
        "calms21_first_load": "vpbehavior first load (stream + cache)",
        "calms21_cached_load": "vpbehavior cached load (.npz)",
    }
    for case, label in labels.items():
        result = _run_case(case, path)
        rows.append(
            {
                "format": "calms21",
                "case": label,
                "frames": result["frames"],
                "file_MB": path.stat().st_size / 2**20,
                "seconds": result["seconds"],
                "peak_MB": result["peak_MB"],
            }
        )
    return rows


#: Sections of the table, in order; each takes (workdir, frames) and returns rows.
BENCHMARKS: list[Callable[..., list[dict]]] = [bench_calms21]


def print_table(rows: list[dict]) -> None:
    def fmt(v):
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    cells = [list(COLUMNS)] + [[fmt(r.get(c, "")) for c in COLUMNS] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    for j, row in enumerate(cells):
        print(" | ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))))
        if j == 0:
            print("-+-".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="write the inputs here (default: a temporary folder)")
    parser.add_argument("--case", nargs=2, metavar=("NAME", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        import numpy  # noqa: F401  (count library imports in the baseline, not in the case)

        import vpbehavior.io.calms21  # noqa: F401

        base = _maxrss_mb()
        start = time.perf_counter()
        frames = CASES[args.case[0]](Path(args.case[1]))
        print(json.dumps({"frames": frames, "seconds": time.perf_counter() - start, "peak_MB": _maxrss_mb() - base}))
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        rows = [row for bench in BENCHMARKS for row in bench(workdir, args.frames)]
    print_table(rows)
    # KABR-format folder with 50 mini-scenes (its own columns, so its own table)
    print()
    subprocess.run([sys.executable, str(Path(__file__).with_name("load_formats_kabr.py"))], check=True)


if __name__ == "__main__":
    main()
