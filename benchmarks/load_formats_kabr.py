"""Load time and peak memory of the KABR loader on a KABR-format folder with 50 mini-scenes.

The folder is written by the project's own writer (vpbehavior.testing/kabr.py: real
layout, SYNTHETIC content, small JPEGs). Time is the best of two untraced runs (the first
run of the first case includes imports); peak memory is the Python-heap peak of a separate
run under tracemalloc. Run: ``python benchmarks/load_formats_kabr.py``.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _measure(fn, repeats: int = 2) -> tuple[object, float, float]:
    """(result, best wall time over ``repeats`` untraced runs, tracemalloc peak MiB of one traced run)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, min(times), peak / 2**20


def kabr_rows(n_scenes: int = 50, frames_per_scene: int = 120, root: Path | None = None) -> list[dict]:
    """Table rows (dicts) for a KABR folder of ``n_scenes`` mini-scenes (80% train, 20% val)."""
    import vpbehavior
    from vpbehavior.io.kabr import load_kabr
    from vpbehavior.testing.kabr import write_kabr

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(root or tmp)
        ids = [f"ZG{i:04d}.1" for i in range(n_scenes)]
        n_train = int(0.8 * n_scenes)
        scenes = {
            "train": {s: [(i + j // 30) % 8 for j in range(frames_per_scene)] for i, s in enumerate(ids[:n_train])},
            "val": {s: [(i + j // 30) % 8 for j in range(frames_per_scene)] for i, s in enumerate(ids[n_train:])},
        }
        written = write_kabr(base, scenes)
        cases = [
            ("auto-detect + load root (images checked)", lambda: vpbehavior.load(written.root)),
            ("load val.csv only", lambda: load_kabr(written.root / "annotation" / "val.csv")),
        ]
        rows = []
        for name, fn in cases:
            ds, seconds, peak = _measure(fn)
            rows.append(
                {
                    "case": name,
                    "mini-scenes": len(ds),
                    "frames": ds.summary()["frames"],
                    "failures": len(ds.failures),
                    "load s": round(seconds, 3),
                    "peak MiB": round(peak, 2),
                    "frames/s": round(ds.summary()["frames"] / seconds),
                }
            )
        import shutil

        shutil.rmtree(written.root / "dataset")
        ds, seconds, peak = _measure(lambda: load_kabr(written.root))
        rows.append(
            {
                "case": "labels only (no image folder)",
                "mini-scenes": len(ds),
                "frames": ds.summary()["frames"],
                "failures": len(ds.failures),
                "load s": round(seconds, 3),
                "peak MiB": round(peak, 2),
                "frames/s": round(ds.summary()["frames"] / seconds),
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    """Plain-text table of benchmark rows."""
    cols = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    line = " | ".join(c.ljust(w) for c, w in zip(cols, widths))
    sep = "-+-".join("-" * w for w in widths)
    body = [" | ".join(str(r[c]).ljust(w) for c, w in zip(cols, widths)) for r in rows]
    return "\n".join([line, sep, *body])


if __name__ == "__main__":
    print(format_table(kabr_rows()))
