"""Parity of the PyTorch VideoPrism port with the official Flax fixtures.

Every output and intermediate in ``fixtures/videoprism_parity`` is compared at
rtol = atol = 1e-5 in float32, on every attention backend we ship. ``flex`` runs through
flex_attention's unfused reference implementation here (compiling it on CPU costs about a
minute per shape); ``test_flex_compiled_kernel`` runs the compiled kernel once.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from vpbehavior.testing.fixtures import find_shared_dir

torch = pytest.importorskip("torch")

from vpbehavior.models import VideoPrism, VideoPrismLvT, layers  # noqa: E402

FIX = (find_shared_dir() or Path("no-shared-dir")) / "fixtures" / "videoprism_parity"
pytestmark = pytest.mark.skipif(not FIX.is_dir(), reason="parity fixtures not available")

IMPLS = ["eager", "sdpa", "flex", "auto"]
TOL = dict(rtol=1e-5, atol=1e-5)
MAX_ERR: dict[str, float] = {}


@pytest.fixture(autouse=True)
def _no_flex_compile(monkeypatch):
    monkeypatch.setattr(layers, "FLEX_COMPILE", False)


def _io(name: str) -> dict[str, np.ndarray]:
    with np.load(FIX / f"{name}_io.npz") as data:
        return {k: data[k] for k in data.files}


def _model(name: str, impl: str, **overrides) -> VideoPrism:
    cfg = "tiny" if name == "tiny_video" else "tiny_lvt"
    from vpbehavior.models import get_config

    return VideoPrism.from_flax(FIX / f"{name}_params.npz", get_config(cfg, **overrides), attention_impl=impl)


def _close(actual, expected, label: str) -> None:
    actual = actual.detach().cpu().numpy() if hasattr(actual, "detach") else actual
    np.testing.assert_allclose(actual, expected, err_msg=label, **TOL)
    MAX_ERR[label] = float(np.abs(actual - expected).max())


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(x))


# ----------------------------------------------------------------------------- video
@pytest.mark.parametrize("impl", IMPLS)
def test_video_outputs(impl):
    io = _io("tiny_video")
    model = _model("tiny_video", impl)
    assert model.model_dim == 32 and model.patch_size == 12
    with torch.no_grad():
        out = model(_t(io["inputs"]))
        _close(out.embeddings, io["embeddings"], f"{impl}/embeddings")
        _close(out.spatial_features, io["spatial_features"], f"{impl}/spatial_features")
        for case in ("interp_up", "interp_down"):
            out = model(_t(io[f"{case}/inputs"]))
            _close(out.embeddings, io[f"{case}/embeddings"], f"{impl}/{case}/embeddings")
            _close(out.spatial_features, io[f"{case}/spatial_features"], f"{impl}/{case}/spatial_features")
            g = int(round(io[f"{case}/spatial_pos_emb_resized"].shape[1] ** 0.5))
            t = io[f"{case}/temporal_pos_emb_resized"].shape[1]
            enc = model.vision_encoder
            _close(
                enc.spatial_pos_emb((g, g)), io[f"{case}/spatial_pos_emb_resized"], f"{case}/spatial_pos_emb_resized"
            )
            _close(
                enc.temporal_pos_emb((t,)), io[f"{case}/temporal_pos_emb_resized"], f"{case}/temporal_pos_emb_resized"
            )
        pads = _t(io["frame_paddings/frame_paddings"])
        out = model(_t(io["inputs"]), frame_paddings=pads)
        assert torch.isfinite(out.embeddings).all()
        _close(out.embeddings, io["frame_paddings/embeddings"], f"{impl}/frame_paddings/emb")
        _close(out.spatial_features, io["frame_paddings/spatial_features"], f"{impl}/frame_paddings/spatial_features")


@pytest.mark.parametrize("impl", IMPLS)
def test_video_logit_cap_variants(impl):
    io = _io("tiny_video")
    with torch.no_grad():
        cap1 = _model("tiny_video", impl, atten_logit_cap=1.0)(_t(io["inputs"]))
        _close(cap1.embeddings, io["cap1/embeddings"], f"{impl}/cap1/embeddings")
        _close(cap1.spatial_features, io["cap1/spatial_features"], f"{impl}/cap1/spatial")
        nocap_model = _model("tiny_video", impl, atten_logit_cap=0.0)
        nocap = nocap_model(_t(io["inputs"]))
        _close(nocap.embeddings, io["nocap/embeddings"], f"{impl}/nocap/embeddings")
    attn = nocap_model.vision_encoder.spatial_encoder.layers[0].self_attention
    expected = {"eager": "eager", "sdpa": "sdpa", "flex": "flex", "auto": "sdpa"}[impl]
    assert attn.resolve_impl(torch.device("cpu"), torch.float32) == expected


# ----------------------------------------------------------------------------- LvT
@pytest.mark.parametrize("impl", IMPLS)
def test_lvt_outputs(impl):
    io = _io("tiny_lvt")
    model = _model("tiny_lvt", impl)
    assert isinstance(model, VideoPrismLvT)
    video, ids, pads = _t(io["inputs"]), _t(io["text_token_ids"]), _t(io["text_paddings"])
    with torch.no_grad():
        for normalize, prefix in ((True, ""), (False, "unnormalized/")):
            out = model(video, ids, pads, normalize=normalize)
            for key in ("video_embeddings", "text_embeddings", "frame_embeddings"):
                _close(getattr(out, key), io[prefix + key], f"{impl}/lvt/{prefix}{key}")
        _close(out.embeddings, io["spatiotemporal_features"], f"{impl}/lvt/spatiotemporal")
        _close(out.spatial_features, io["spatial_features"], f"{impl}/lvt/spatial_features")
        v, f = model.encode_video(video)
        _close(v, io["video_embeddings"], f"{impl}/lvt/encode_video")
        _close(f, io["frame_embeddings"], f"{impl}/lvt/encode_video_frames")
        _close(model.encode_text(ids, pads), io["text_embeddings"], f"{impl}/lvt/encode_text")
        v, _ = model.encode_video(_t(io["interp_up/inputs"]))
        _close(v, io["interp_up/video_embeddings"], f"{impl}/lvt/interp_up")
        # ids under padding do not matter
        ids2 = ids.clone()
        ids2[pads > 0] = 7
        assert torch.equal(model.encode_text(ids2, pads), model.encode_text(ids, pads))


# ----------------------------------------------------------------------------- intermediates
def _module_name(path: str, is_lvt: bool) -> str:
    path = path.replace("transformers_stack/x_layers_", "layers/")
    path = path.replace("unimodal_transformer/x_layers_", "unimodal_transformer/layers/")
    name = path.replace("/", ".")
    return name if is_lvt else f"vision_encoder.{name}"


def _capture(model):
    records: dict[str, list] = {}
    handles = []
    for name, module in model.named_modules():

        def hook(mod, args, output, name=name):
            if isinstance(output, torch.Tensor):
                records.setdefault(name, []).append(output.detach().clone())

        handles.append(module.register_forward_hook(hook))
    return records, handles


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("which", ["tiny_video", "tiny_lvt"])
def test_intermediates(which, impl):
    io = _io(which)
    model = _model(which, impl)
    is_lvt = which == "tiny_lvt"
    records, handles = _capture(model)
    with torch.no_grad():
        if is_lvt:
            model(_t(io["inputs"]), _t(io["text_token_ids"]), _t(io["text_paddings"]))
        else:
            model(_t(io["inputs"]))
    for h in handles:
        h.remove()
    keys = [k for k in io if k.startswith("inter/")]
    checked = 0
    for key in keys:
        m = re.fullmatch(r"inter/(.+)/call(\d+)(?:/(\d))?", key)
        assert m, key
        path, call, part = m.group(1), int(m.group(2)), m.group(3)
        name = _module_name(path, is_lvt)
        if part == "1":
            name += ".attn_probs"
        expected = io[key]
        mod = model.get_submodule(name)
        if part == "1" and mod not in [
            a.attn_probs
            for a in model.modules()
            if isinstance(a, layers.Attention) and a.resolve_impl(torch.device("cpu"), torch.float32) == "eager"
        ]:
            continue  # probabilities exist only on the eager path
        got = records[name][call]
        _close(got.reshape(expected.shape), expected, f"{impl}/{key}")
        checked += 1
    n_probs = sum(k.endswith("/1") for k in keys)
    assert checked >= len(keys) - n_probs
    if impl == "eager":
        assert checked == len(keys)


# ----------------------------------------------------------------------------- fused kernels
def test_sdpa_fully_masked_rows_match_eager():
    io = _io("tiny_video")
    pads = _t(io["frame_paddings/frame_paddings"])
    outs = {}
    with torch.no_grad():
        for impl in ("eager", "sdpa"):
            model = _model("tiny_video", impl, atten_logit_cap=0.0)
            outs[impl] = model(_t(io["inputs"]), frame_paddings=pads).embeddings
    assert torch.isfinite(outs["sdpa"]).all()
    torch.testing.assert_close(outs["sdpa"], outs["eager"], rtol=1e-5, atol=1e-5)
    MAX_ERR["sdpa_vs_eager/nocap+frame_paddings"] = float((outs["sdpa"] - outs["eager"]).abs().max())


def test_flex_compiled_kernel(monkeypatch):
    """The compiled flex kernel (not only its reference) reproduces padded-frame outputs."""
    monkeypatch.setattr(layers, "FLEX_COMPILE", True)
    io = _io("tiny_video")
    model = _model("tiny_video", "flex")
    with torch.no_grad():
        out = model(_t(io["inputs"]), frame_paddings=_t(io["frame_paddings/frame_paddings"]))
    assert torch.isfinite(out.embeddings).all()
    _close(out.embeddings, io["frame_paddings/embeddings"], "flex-compiled/frame_paddings")
