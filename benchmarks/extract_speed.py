"""Feature-extraction and classifier-training speed; prints a table.

For each encoder config (tiny at its native 36 px; base at 288 px, 16-frame clips) on a
synthetic 320x240 video:

- decode alone: sequential decoding + resizing into clips (the background thread's work);
- compute alone: the encoder + pooling on clips already in memory;
- pipeline: `extract_recording` end to end (decoding thread overlapped with compute,
  HDF5 writes included).

Frames/s counts video frames (each frame is encoded ``clip_length / stride`` times with
the default half-clip stride). If decoding is hidden, pipeline time ~ max(decode, compute).

Then the training time of linear and MLP heads on 1M frames x 768 random features.

Usage: python benchmarks/extract_speed.py [--base-frames 48] [--train-frames 1000000] [--device cpu]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import vpbehavior


def make_video(folder: Path, n_frames: int):
    """A synthetic 320x240 recording written to ``folder`` and loaded back."""
    import vpbehavior
    from vpbehavior.io.synthetic import SyntheticConfig, write_recording

    write_recording(SyntheticConfig(height=240, width=320, n_frames=n_frames, seed=0), folder, "bench")
    return vpbehavior.load(folder)[0]


def time_extraction(
    rec, config_name: str, size: int, clip_length: int, batch_size: int, device: str, work: Path
) -> dict:
    from vpbehavior.features.extract import (
        ExtractConfig,
        encoder_identity,
        extract_recording,
        iter_clip_batches,
        load_encoder,
        plan_clips,
        pool_clip_outputs,
    )
    from vpbehavior.runtime import autocast

    model = load_encoder(f"random:{config_name}", device=device)
    identity = encoder_identity(model)
    cfg = ExtractConfig(
        clip_length=clip_length, size=size, token_grid=4 if size // model.patch_size >= 4 else 0, subjects=False
    ).resolved(model)
    n = rec.n_frames
    clips = plan_clips(n, cfg.clip_length, cfg.stride)
    # decode alone
    t0 = time.perf_counter()
    reader = vpbehavior.open_video(rec)
    batches = list(iter_clip_batches(reader.iter_frames(0, n), 0, clips, cfg.size, batch_size))
    reader.close()
    decode = time.perf_counter() - t0
    # compute alone (same clips, already decoded)
    g = cfg.size // model.patch_size
    t0 = time.perf_counter()
    with torch.inference_mode(), autocast(device):
        for _, batch in batches:
            x = torch.from_numpy(batch).to(device).float().div_(255)
            tok = model(x).embeddings.float().reshape(len(batch), cfg.clip_length, g, g, -1)
            pool_clip_outputs(tok, cfg.token_grid)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    compute = time.perf_counter() - t0
    del batches
    # overlapped pipeline
    t0 = time.perf_counter()
    run_cfg = dataclasses.replace(cfg, batch_size=batch_size, device=device)
    extract_recording(rec, model, work / config_name, run_cfg, progress=False, identity=identity, overwrite=True)
    pipeline = time.perf_counter() - t0
    return {
        "config": config_name,
        "size": cfg.size,
        "clip": cfg.clip_length,
        "stride": cfg.stride,
        "frames": n,
        "clips": len(clips),
        "decode_s": decode,
        "compute_s": compute,
        "pipeline_s": pipeline,
    }


def time_training(n_frames: int, dim: int, heads: tuple[str, ...], device: str) -> list[dict]:
    from vpbehavior.classify.config import TrainConfig
    from vpbehavior.classify.data import FeatureSequence
    from vpbehavior.classify.training import fit

    rng = np.random.default_rng(0)
    n_classes = 8
    feats = rng.standard_normal((n_frames, dim), dtype=np.float32)
    targets = (rng.random((n_frames, n_classes)) < 0.1).astype(np.int8)
    seqs = [
        FeatureSequence(feats[i : i + 100_000], targets[i : i + 100_000], f"r{i}") for i in range(0, n_frames, 100_000)
    ]
    rows = []
    for head in heads:
        cfg = TrainConfig(head=head, max_epochs=1, batch_size=1024, device=device, hidden=256)
        t0 = time.perf_counter()
        clf = fit(seqs, None, [f"c{i}" for i in range(n_classes)], cfg)
        rows.append(
            {
                "head": head,
                "frames": n_frames,
                "dim": dim,
                "epoch_s": clf.info["history"][0]["seconds"],
                "total_s": time.perf_counter() - t0,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny-frames", type=int, default=600)
    parser.add_argument("--base-frames", type=int, default=48)
    parser.add_argument("--train-frames", type=int, default=1_000_000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-base", action="store_true")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rec_tiny = make_video(tmp / "tiny_video", args.tiny_frames)
        rows.append(time_extraction(rec_tiny, "tiny", 0, 0, 16, args.device, tmp))
        if not args.skip_base:
            rec_base = make_video(tmp / "base_video", args.base_frames)
            rows.append(time_extraction(rec_base, "base", 288, 16, 2, args.device, tmp))
    print("\nfeature extraction (frames/s = video frames per second of wall time)")
    print(
        f"{'config':<6} {'input':>12} {'frames':>6} {'clips':>5} {'decode fps':>11} {'compute fps':>12} "
        f"{'pipeline fps':>13} {'hidden?':>8}"
    )
    for r in rows:
        fps = {k: r["frames"] / r[f"{k}_s"] for k in ("decode", "compute", "pipeline")}
        hidden = r["pipeline_s"] <= 1.15 * max(r["compute_s"], r["decode_s"]) + 0.5
        print(
            f"{r['config']:<6} {r['clip']:>3}x{r['size']:>3}px s{r['stride']:<2} {r['frames']:>6} {r['clips']:>5} "
            f"{fps['decode']:>11.1f} {fps['compute']:>12.2f} {fps['pipeline']:>13.2f} {'yes' if hidden else 'no':>8}"
        )
    train = time_training(args.train_frames, 768, ("linear", "mlp"), args.device)
    print(f"\nclassifier training, {args.train_frames:,} frames x 768 random features, 8 classes, batch 1024")
    print(f"{'head':<8} {'s / epoch':>10} {'frames/s':>12} {'incl. setup s':>14}")
    for r in train:
        print(f"{r['head']:<8} {r['epoch_s']:>10.1f} {r['frames'] / r['epoch_s']:>12.0f} {r['total_s']:>14.1f}")


if __name__ == "__main__":
    main()
