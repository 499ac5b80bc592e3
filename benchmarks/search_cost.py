"""What text search costs per hour of video with the LvT base model on this machine's CPU.

Builds ``lvt_base`` (the released video-text architecture, 248M parameters; random weights:
cost does not depend on the values), then measures

- the clip forward alone (``encode_video`` on one 16 x 288 x 288 clip) in float32 and, where the
  CPU runs bf16 natively, under bf16 autocast (what `vpbehavior search` uses there);
- the whole path, `TextSearch.embed` on a short synthetic video (decoding, resizing, forward,
  the HDF5 cache), per clip;
- a query: text embeddings of 10 queries, and ranking one hour's clips;

and extrapolates to one hour of 30 fps video at the default stride (8 frames: half a clip) and
at stride 16. Speed is printed as measured here; the ratios matter more than the seconds.

Usage::

    python benchmarks/search_cost.py              # about 3 minutes on 2 CPU cores
    python benchmarks/search_cost.py --repeats 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import vpbehavior as vpb
from vpbehavior.models import build_model
from vpbehavior.runtime import autocast, autocast_dtype
from vpbehavior.testing.tokenizer import train_sentencepiece


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = build_model("lvt_base", seed=0).eval()
    model.origin = "lvt_base (random weights)"
    clip = torch.rand(1, 16, 288, 288, 3)

    class Rows(list):
        def append(self, row):  # show each number as soon as it is measured
            print(f"  {row[0]}: {row[1]:.3f} s", flush=True)
            super().append(row)

    rows = Rows()

    def forward():
        with torch.inference_mode():
            model.encode_video(clip)

    rows.append(("clip forward, float32", timed(forward, args.repeats)))
    if autocast_dtype("cpu") is not None:

        def forward_bf16():
            with torch.inference_mode(), autocast("cpu"):
                model.encode_video(clip)

        rows.append(("clip forward, bf16 autocast", timed(forward_bf16, args.repeats)))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        words = "a mouse grooming two flies fighting zebra running animal video of the".split()
        spm = train_sentencepiece([" ".join(np.random.default_rng(i).permutation(words)) for i in range(200)],
                                  tmp / "spm", vocab_size=30)  # fmt: skip
        rec = vpb.api.make_experiment(tmp / "data", n_videos=1, seed=0, height=240, width=320, n_frames=40)[0]
        recording = vpb.load(rec).recordings[0]
        engine = vpb.TextSearch(model, spm, vpb.SearchConfig(batch_size=1), cache=tmp / "clips")
        start = time.perf_counter()
        clips = engine.embed(recording)
        per_clip = (time.perf_counter() - start) / len(clips)
        rows.append((f"whole path per clip ({len(clips)} clips of a 320x240 video)", per_clip))
        queries = [f"query {i}: a mouse grooming | two flies fighting" for i in range(10)]
        rows.append(("10 queries' text embeddings", timed(lambda: engine.encode(queries), args.repeats)))
        fake = np.random.default_rng(0).normal(size=(13500, model.model_dim)).astype(np.float32)
        text = engine.encode(queries)[1]
        rows.append(("ranking 1 hour of clips for 10 queries", timed(lambda: np.argsort(-(fake @ text.T), 0), 3)))

    print(f"\nLvT base on CPU ({torch.get_num_threads()} threads), seconds (median of {args.repeats}):")
    width = max(len(name) for name, _ in rows)
    for name, seconds in rows:
        print(f"  {name:<{width}}  {seconds:9.3f}")
    print(f"\nper hour of {args.fps:g} fps video (the whole path's cost per clip x clips per hour):")
    print(f"  {'stride':>6}  {'clips/hour':>10}  {'CPU hours':>9}  {'cache MB':>8}")
    for stride in (8, 16):
        n = int(3600 * args.fps / stride)
        print(f"  {stride:>6}  {n:>10}  {n * per_clip / 3600:>9.1f}  {n * (model.model_dim * 4 + 16) / 1e6:>8.1f}")


if __name__ == "__main__":
    main()
