"""One short GPU check: encoder inference, extraction with decoding, and a stage-2 training loop.

    python scripts/gpu_check.py                 # base size on one GPU, bf16; about 4-8 minutes
    python scripts/gpu_check.py --tiny          # tiny config on the CPU: a smoke test (seconds)

Prints one table:

- encoder inference clips/s with each attention kernel (eager, SDPA, flex; bf16 autocast). SDPA
  cannot soft-cap logits, so its row runs the model with the cap switched off (not the exact
  model: a speed reference only);
- the extraction pipeline (`vpbehavior.extract_features`) on a synthetic video: decoding,
  resizing and encoding together, in frames/s;
- a stage-2 training loop (`vpbehavior.pretrain("stage2")`, random base weights, plain video
  teacher): clips/s, peak GPU memory and MFU over the second half of the steps (the first half
  absorbs compilation and warm-up).

Each part runs a fixed number of steps (``--steps``), so the whole stays within a few minutes.
Weights are random: speed does not depend on their values, and nothing is downloaded.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
import warnings
from pathlib import Path


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny config, small clips: a CPU smoke test")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default: auto)")
    p.add_argument("--steps", type=int, default=0, help="timed steps per part (default: 20, 3 with --tiny)")
    p.add_argument("--batch", type=int, default=0, help="clips per step (default: 8, 2 with --tiny)")
    p.add_argument("--frames", type=int, default=0, help="frames per clip (default: 16, 4 with --tiny)")
    p.add_argument("--video-frames", type=int, default=0, help="frames of the extraction video (default: 256, 32)")
    p.add_argument("--grad-checkpointing", action="store_true", help="stage 2 with gradient checkpointing")
    p.add_argument("--out", default=None, help="folder for the video and the run (default: a temporary one)")
    return p.parse_args(argv)


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_gb(device):
    import torch

    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")


def _reset_peak(device):
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def encoder_rows(config, device, batch, frames, size, steps):
    """Inference clips/s per attention kernel (bf16 autocast where the hardware has it)."""
    import torch

    from vpbehavior.models import build_model, get_config
    from vpbehavior.pretrain.task import encoder_flops, peak_flops
    from vpbehavior.runtime import autocast

    rows = []
    video = torch.rand(batch, frames, size, size, 3, device=device)
    peak = peak_flops(device)
    for impl in ("eager", "sdpa", "flex"):
        cfg = get_config(config)
        label = impl
        if impl == "sdpa":
            cfg = cfg.replace(atten_logit_cap=0.0)
            label = "sdpa (no logit cap)"
        model = build_model(cfg, attention_impl=impl, seed=0).to(device).eval()
        try:
            with torch.inference_mode(), autocast(str(device)):
                for _ in range(2):  # warm-up (and flex compilation)
                    model(video)
                _sync(device)
                _reset_peak(device)
                start = time.perf_counter()
                for _ in range(steps):
                    model(video)
                _sync(device)
            seconds = time.perf_counter() - start
            clips = batch * steps / seconds
            g = size // model.patch_size
            mfu = clips * encoder_flops(model.config, 1, frames, g * g) / peak if peak else None
            rows.append((f"encoder inference, {label}", f"{clips:.1f} clips/s", _peak_gb(device), mfu))
        except Exception as err:  # a kernel this torch / GPU lacks: say so, go on
            rows.append((f"encoder inference, {label}", f"failed: {type(err).__name__}: {err}"[:70], None, None))
        del model
    return rows


def extraction_row(config, device, folder, n_frames, size, batch):
    """Frames/s of the extraction pipeline on a synthetic video, decoding included."""
    import vpbehavior as vpb
    from vpbehavior.models import build_model

    videos = folder / "extract_video"
    if not videos.exists():
        body = None if size >= 62 else 9.0  # the synthetic animals' default length is too small below 62 px
        vpb.make_experiment(videos, n_videos=1, seed=0, progress=False, height=size, width=size, n_frames=n_frames,
                            body_length=body)  # fmt: skip
    rec = vpb.load(videos).recordings[0]
    encoder = build_model(config, seed=0).to(device).eval()
    encoder.origin = f"random:{config}"
    cfg = vpb.ExtractConfig(size=size, batch_size=batch, device=str(device), subjects=False)
    start = time.perf_counter()
    result = vpb.extract_features([rec], encoder, cfg, cache=folder / "features", overwrite=True)
    seconds = time.perf_counter() - start
    if not result.ok:
        return ("extraction (decode + encode)", f"failed: {result.failures[0][1]}"[:70], None, None)
    return ("extraction (decode + encode)", f"{rec.n_frames / seconds:.1f} frames/s", None, None)


def stage2_row(config, device, folder, batch, frames, size, steps, grad_checkpointing):
    """A stage-2 training loop: clips/s, peak memory and MFU over the second half of the steps."""
    import vpbehavior as vpb

    out = folder / f"stage2_run_{time.strftime('%Y%m%d-%H%M%S')}"
    result = vpb.pretrain(
        "stage2",
        data=[folder / "extract_video"],
        weights=f"random:{config}",
        out=str(out),
        resume=False,
        steps=2 * steps,
        log_every=steps,
        checkpoint_every=10**6,
        batch_size=batch,
        frames=frames,
        size=size,
        clip_stride=1,
        workers=4 if device.type == "cuda" else 0,
        device=str(device),
        grad_checkpointing=grad_checkpointing,
        warmup_steps=1,
    )
    with open(result.metrics_file, newline="") as fh:
        last = list(csv.DictReader(fh))[-1]
    mem = float(last["peak_mem_gb"]) if last.get("peak_mem_gb") else None
    mfu = float(last["mfu"]) if last.get("mfu") else None
    label = "stage-2 training" + (" (grad checkpointing)" if grad_checkpointing else "")
    return (label, f"{float(last['clips_per_s']):.2f} clips/s", mem, mfu)


def main(argv=None) -> int:
    args = _parse(argv)
    import torch

    from vpbehavior.models import layers
    from vpbehavior.runtime import resolve_device

    device = torch.device(resolve_device(args.device))
    config = "tiny" if args.tiny else "base"
    steps = args.steps or (3 if args.tiny else 20)
    batch = args.batch or (2 if args.tiny else 8)
    frames = args.frames or (4 if args.tiny else 16)
    size = 48 if args.tiny else 288
    n_video = args.video_frames or (32 if args.tiny else 256)
    flex_compile = layers.FLEX_COMPILE
    try:
        with warnings.catch_warnings():
            if device.type == "cpu":
                layers.FLEX_COMPILE = False  # compiling flex on a CPU takes a minute per shape: use its reference path
                warnings.filterwarnings("ignore", message="flex_attention called without torch.compile")
            return _check(args, device, config, steps, batch, frames, size, n_video)
    finally:
        layers.FLEX_COMPILE = flex_compile


def _check(args, device, config, steps, batch, frames, size, n_video) -> int:
    import torch

    from vpbehavior.runtime import autocast_dtype

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"vpbehavior GPU check: {config} config on {name}, torch {torch.__version__}, "
          f"autocast {autocast_dtype(str(device))}, {batch} clips x {frames} frames x {size} px, {steps} steps")  # fmt: skip
    began = time.perf_counter()
    tmp = tempfile.TemporaryDirectory(prefix="vpb-gpu-check-") if args.out is None else None
    folder = Path(args.out or tmp.name)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    timings = []
    for part, run in (
        ("encoder", lambda: encoder_rows(config, device, batch, frames, size, steps)),
        ("extraction", lambda: [extraction_row(config, device, folder, n_video, size, batch)]),
        ("stage 2", lambda: [stage2_row(config, device, folder, batch, frames, size, steps, args.grad_checkpointing)]),
    ):
        t0 = time.perf_counter()
        rows.extend(run())
        timings.append(f"{part} {time.perf_counter() - t0:.0f} s")
    width = max(len(r[0]) for r in rows)
    print(f"\n{'what':<{width}}  {'throughput':>22}  {'peak GB':>8}  {'MFU':>6}")
    for what, speed, mem, mfu in rows:
        mem_s = "-" if mem is None or mem != mem else f"{mem:.1f}"
        mfu_s = "-" if mfu is None else f"{100 * mfu:.1f}%"
        print(f"{what:<{width}}  {speed:>22}  {mem_s:>8}  {mfu_s:>6}")
    print(f"\ntotal {time.perf_counter() - began:.0f} s ({', '.join(timings)})")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
