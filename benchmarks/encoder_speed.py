"""VideoPrism encoder forward speed and memory: vpbehavior vs Hugging Face transformers.

Measures forward clips/s and peak extra resident memory for the ``tiny`` config and the
``base`` config (16 frames, 288x288) at batch 1 and 4, on CPU in float32, for our model
and for ``transformers.VideoPrismVisionModel`` built from the same config and loaded with
the same weights (the outputs are compared). Also reports which fraction of this
machine's measured float32 matmul peak our base forward reaches (FLOPs counted
analytically: matmuls only).

Usage::

    python benchmarks/encoder_speed.py            # a few minutes on 2 CPU cores
    python benchmarks/encoder_speed.py --iters 3 --no-hf
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import torch

from vpbehavior.models import build_model, get_config
from vpbehavior.models.configs import VideoPrismConfig


# ----------------------------------------------------------------------------- helpers
def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Peak resident memory above the level at entry, sampled every 2 ms."""

    def __enter__(self) -> PeakRSS:
        self.base = _rss_bytes()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(0.002)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def extra_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def forward_flops(cfg: VideoPrismConfig, batch: int, frames: int, grid: int) -> float:
    """Matmul FLOPs of one forward (2 per multiply-add; LN/softmax/GELU ignored)."""
    d, m, n, p = cfg.model_dim, cfg.mlp_dim, grid * grid, cfg.patch_size

    def layer(bx: int, s: int) -> float:
        return 2 * bx * s * (4 * d * d + 2 * d * m) + 2 * 2 * bx * s * s * d

    flops = 2 * batch * frames * n * (p * p * 3) * d
    flops += cfg.num_spatial_layers * layer(batch * frames, n)
    flops += cfg.num_temporal_layers * layer(batch * n, frames)
    return float(flops)


def matmul_peak_gflops(size: int = 2048, reps: int = 5) -> float:
    """Best observed float32 GEMM throughput of this machine (GFLOP/s)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - t) / 1e9)
    return best


def hf_model_from_ours(model):
    """``transformers.VideoPrismVisionModel`` with our weights, or None if unavailable."""
    try:
        from transformers import VideoPrismVisionConfig, VideoPrismVisionModel
    except ImportError:
        return None
    c = model.config
    hf_cfg = VideoPrismVisionConfig(
        image_size=c.image_size,
        num_frames=c.num_frames,
        tubelet_size=[1, c.patch_size, c.patch_size],
        hidden_size=c.model_dim,
        num_attention_heads=c.num_heads,
        intermediate_size=c.mlp_dim,
        num_spatial_layers=c.num_spatial_layers,
        num_temporal_layers=c.num_temporal_layers,
        attn_logit_softcapping=c.atten_logit_cap,
        layer_norm_eps=1e-6,
    )
    hf = VideoPrismVisionModel(hf_cfg).eval()
    hf.set_attn_implementation("eager") if hasattr(hf, "set_attn_implementation") else None
    ours = model.state_dict()
    p, d = c.patch_size, c.model_dim
    new = {}
    pre = "vision_encoder."
    w = ours[pre + "patch_projection.linear.weight"]
    new["spatial_embeddings.patch_embeddings.projection.weight"] = (
        w.reshape(d, p, p, 3).permute(0, 3, 1, 2)[:, :, None].contiguous()
    )
    new["spatial_embeddings.patch_embeddings.projection.bias"] = ours[pre + "patch_projection.linear.bias"]
    new["spatial_embeddings.position_embeddings"] = ours[pre + "spatial_pos_emb.emb_var"][None]
    new["temporal_embeddings.position_embeddings"] = ours[pre + "temporal_pos_emb.emb_var"][None]
    # HF keeps the Flax offset convention: its LayerNorm adds 1 to the weight at run time.
    for src, dst in (("spatial_ln", "layernorm1"), ("temporal_ln", "layernorm2")):
        new[f"{dst}.weight"] = ours[f"{pre}{src}.weight"] - 1
        new[f"{dst}.bias"] = ours[f"{pre}{src}.bias"]
    names = {
        "self_attention.query": "attention.q_proj",
        "self_attention.key": "attention.k_proj",
        "self_attention.value": "attention.v_proj",
        "self_attention.post": "attention.o_proj",
        "ff_layer.ffn_layer1.linear": "mlp.fc1",
        "ff_layer.ffn_layer2.linear": "mlp.fc2",
    }
    for stack, hf_stack, num in (
        ("spatial_encoder", "spatial_layers", c.num_spatial_layers),
        ("temporal_encoder", "temporal_layers", c.num_temporal_layers),
    ):
        for i in range(num):
            src = f"{pre}{stack}.layers.{i}."
            dst = f"{hf_stack}.{i}."
            for a, b in names.items():
                new[dst + b + ".weight"] = ours[src + a + ".weight"]
                new[dst + b + ".bias"] = ours[src + a + ".bias"]
            for a, b in (("layer_norm", "layernorm_before"), ("ff_layer.layer_norm", "layernorm_after")):
                new[dst + b + ".weight"] = ours[src + a + ".weight"] - 1
                new[dst + b + ".bias"] = ours[src + a + ".bias"]
    missing, unexpected = hf.load_state_dict(new, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"HF conversion incomplete: missing={missing} extra={unexpected}")
    return hf


def time_forward(fn, iters: int, warmup: int) -> tuple[float, float]:
    """(seconds per call, peak extra MB)."""
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        with PeakRSS() as mem:
            t = time.perf_counter()
            for _ in range(iters):
                out = fn()
            dt = (time.perf_counter() - t) / iters
    del out
    return dt, mem.extra_mb


# ----------------------------------------------------------------------------- main
HEADER = (
    f"{'config':<6} {'B':>2} {'T':>3} {'px':>4} | {'ours clips/s':>12} {'ours MB':>8} "
    f"{'% peak':>7} | {'HF clips/s':>10} {'HF MB':>8} | {'max|ours-HF|':>12}"
)


def _format_row(r: dict, peak: float) -> str:
    """One table row (printed as soon as it is measured)."""
    hf_cols = f"{r['hf_cps']:>10.3f} {r['hf_mb']:>8.0f}" if "hf_cps" in r else f"{'n/a':>10} {'n/a':>8}"
    diff = r.get("maxdiff")
    diff_s = f"{diff:>12.2e}" if diff is not None else f"{'-':>12}"
    return (
        f"{r['model']:<6} {r['batch']:>2} {r['frames']:>3} {r['size']:>4} | "
        f"{r['ours_cps']:>12.3f} {r['ours_mb']:>8.0f} "
        f"{100 * r['ours_gflops'] / peak:>6.1f}% | {hf_cols} | {diff_s}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=1, help="timed iterations for base")
    ap.add_argument("--tiny-iters", type=int, default=10)
    ap.add_argument("--no-hf", action="store_true", help="skip transformers")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    args = ap.parse_args()

    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, float32, CPU")
    peak = matmul_peak_gflops()
    print(f"measured float32 matmul peak (2048^3 GEMM): {peak:.1f} GFLOP/s")
    try:
        import transformers

        hf_note = f"transformers {transformers.__version__}"
        from transformers import VideoPrismVisionModel  # noqa: F401
    except ImportError as err:
        hf_note = (
            "transformers not installed" if "transformers" in str(err) else ("installed transformers lacks VideoPrism")
        )
    if args.no_hf:
        hf_note = "skipped (--no-hf)"
    print(f"HF reference: {hf_note}\n")

    print(HEADER)
    print("-" * len(HEADER))
    rows = []
    for name, frames in (("tiny", 4), ("base", 16)):
        cfg = get_config(name)
        size = cfg.image_size
        model = build_model(cfg, seed=0).eval()
        hf = None if args.no_hf else hf_model_from_ours(model)
        iters = args.tiny_iters if name == "tiny" else args.iters
        warm = 2 if name == "tiny" else 0
        for batch in args.batches:
            video = torch.rand(batch, frames, size, size, 3)
            if name == "base" and batch == args.batches[0]:
                warm_b = 1  # one warm-up call for the first base shape only (6+ s each)
            else:
                warm_b = warm
            ours_fn = lambda m=model, v=video: m(v).embeddings  # noqa: E731
            dt, mb = time_forward(ours_fn, iters, warm_b)
            gflops = forward_flops(cfg, batch, frames, size // cfg.patch_size) / dt / 1e9
            row = dict(
                model=name, batch=batch, frames=frames, size=size, ours_cps=batch / dt, ours_mb=mb, ours_gflops=gflops
            )
            if hf is not None:
                hv = video.permute(0, 1, 4, 2, 3).contiguous()
                hf_fn = lambda h=hf, v=hv: h(pixel_values_videos=v).last_hidden_state  # noqa: E731
                hdt, hmb = time_forward(hf_fn, iters, warm_b)
                with torch.inference_mode():
                    diff = (ours_fn() - hf_fn()).abs().max().item() if batch == 1 else None
                row.update(hf_cps=batch / hdt, hf_mb=hmb, maxdiff=diff)
            rows.append(row)
            print(_format_row(row, peak), flush=True)

    print(
        f"\n% peak = analytic matmul FLOPs / time / measured GEMM peak ({peak:.1f} GFLOP/s). "
        f"MB = peak resident memory above the level before the timed calls. "
        f"HF: {hf_note}; attention eager (HF disallows SDPA with the soft-cap); "
        f"ours: attention_impl='auto' (eager on CPU when capped)."
    )


if __name__ == "__main__":
    main()
