"""Checkpoint conversion completeness, our save/load format and hub loading (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from vpbehavior.testing.fixtures import find_shared_dir

torch = pytest.importorskip("torch")

from vpbehavior.models import (  # noqa: E402
    VideoPrism,
    VideoPrismLvT,
    build_model,
    configs,
    convert_flax_params,
    flax_param_shapes,
    get_config,
    infer_config,
)

FIX = (find_shared_dir() or Path("no-shared-dir")) / "fixtures" / "videoprism_parity"
pytestmark = pytest.mark.skipif(not FIX.is_dir(), reason="parity fixtures not available")
RELEASED = json.loads((FIX / "base_param_shapes.json").read_text()) if FIX.is_dir() else {}


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_released_names_and_shapes_map_exactly(name):
    entry = RELEASED[name]
    cfg = get_config(name)
    assert cfg.hf_repo == entry["hf_repo"] and cfg.hf_filename == entry["hf_filename"]
    shapes = {k: tuple(v) for k, v in entry["params"].items()}
    assert flax_param_shapes(cfg) == shapes
    assert sum(int(np.prod(s)) for s in shapes.values()) == entry["num_params"]
    # zero-stride arrays: the real converter runs without allocating the weights
    fake = {k: np.broadcast_to(np.float32(0.0), s) for k, s in shapes.items()}
    converted = convert_flax_params(fake, cfg)
    with torch.device("meta"):
        model = build_model(cfg)
    assert isinstance(model, VideoPrismLvT) == ("lvt" in name)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in converted.items()} == expected
    assert sum(int(np.prod(s)) for s in expected.values()) == entry["num_params"]
    assert infer_config(fake) == cfg


def test_converter_rejects_missing_extra_and_wrong_shapes():
    with np.load(FIX / "tiny_video_params.npz") as d:
        params = {k: d[k] for k in d.files}
    extra = dict(params, **{"params/unknown/kernel": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="unexpected"):
        convert_flax_params(extra, "tiny")
    missing = dict(params)
    missing.pop("params/spatial_ln/scale")
    with pytest.raises(ValueError, match="spatial_ln"):
        convert_flax_params(missing, "tiny")
    with pytest.raises(ValueError, match="wrong shapes"):
        convert_flax_params(params, get_config("tiny", mlp_dim=65))


def test_config_registry_and_official_dicts():
    for name in ("base", "large", "giant", "lvt_base", "lvt_large", "tiny", "tiny_lvt"):
        assert name in configs.CONFIGS
    assert get_config("giant").model_dim == 1408 and get_config("giant").hf_repo is None
    official = json.loads((FIX / "tiny_lvt_config.json").read_text())["config"]
    cfg = get_config(official)
    assert cfg.is_lvt and cfg.vocabulary_size == 64
    assert cfg == get_config("tiny_lvt").replace(name=cfg.name)
    with pytest.raises(ValueError, match="unknown"):
        get_config({**official, "bogus": 1})
    with pytest.raises(KeyError):
        get_config("no_such_model")
    assert get_config("google/videoprism-lvt-base-f16r288") == get_config("lvt_base")


def test_from_flax_dict_and_inferred_config():
    with np.load(FIX / "tiny_lvt_params.npz") as d:
        params = {k: d[k] for k in d.files}
    official = json.loads((FIX / "tiny_lvt_config.json").read_text())["config"]
    a = VideoPrism.from_flax(params, official)
    b = VideoPrism.from_flax(FIX / "tiny_lvt_params.npz")  # config inferred from shapes
    assert isinstance(a, VideoPrismLvT) and isinstance(b, VideoPrismLvT)
    assert b.config.name == "tiny_lvt"
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    ln = a.vision_encoder.spatial_ln.weight
    assert torch.allclose(ln, torch.from_numpy(params["params/vision_encoder/spatial_ln/scale"]) + 1)
    assert all(p.requires_grad for p in a.parameters())


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_save_load_roundtrip(tmp_path, suffix):
    model = VideoPrism.from_flax(FIX / "tiny_video_params.npz", "tiny")
    path = model.save(tmp_path / f"sub/model{suffix}")
    assert path.is_file() and not list(path.parent.glob("*.tmp"))
    loaded = VideoPrism.load(path)
    assert loaded.config == model.config and type(loaded) is VideoPrism
    video = torch.rand(1, 2, 36, 36, 3)
    with torch.no_grad():
        assert torch.equal(loaded(video).embeddings, model(video).embeddings)
    again = VideoPrism.from_pretrained(path.parent)  # a folder with one checkpoint
    assert torch.equal(
        again.vision_encoder.patch_projection.linear.weight, model.vision_encoder.patch_projection.linear.weight
    )


def test_load_rejects_foreign_files(tmp_path):
    bad = tmp_path / "x.pt"
    torch.save({"weights": torch.zeros(2)}, bad)
    with pytest.raises(ValueError, match="not a vpbehavior checkpoint"):
        VideoPrism.load(bad)
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(2)}, str(tmp_path / "y.safetensors"))
    with pytest.raises(ValueError, match="metadata"):
        VideoPrism.load(tmp_path / "y.safetensors")


def _fake_hub_cache(cache: Path, repo_id: str, filename: str, src: Path) -> Path:
    """Write one file into the huggingface_hub cache layout (models--org--name)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    snap = repo_dir / "snapshots" / commit
    snap.mkdir(parents=True)
    (snap / filename).write_bytes(src.read_bytes())
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    return snap / filename


def test_from_pretrained_through_hub_cache_offline(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hub"
    _fake_hub_cache(cache, "someone/tiny-videoprism", "tiny.npz", FIX / "tiny_video_params.npz")
    model = VideoPrism.from_pretrained(
        "someone/tiny-videoprism",
        "tiny",
        filename="tiny.npz",
        cache_dir=cache,
        local_files_only=True,
    )
    ref = VideoPrism.from_flax(FIX / "tiny_video_params.npz", "tiny")
    video = torch.rand(1, 4, 36, 36, 3)
    with torch.no_grad():
        assert torch.equal(model(video).embeddings, ref(video).embeddings)
    # a released name resolves to its official repo and file; not cached -> clear error
    with pytest.raises(Exception, match="(?i)videoprism-base-f16r288|offline|cache|local"):
        VideoPrism.from_pretrained("videoprism_public_v1_base", cache_dir=cache, local_files_only=True)
    with pytest.raises(FileNotFoundError):
        VideoPrism.from_pretrained("not-a-model")


def test_released_name_resolves_to_official_file(tmp_path, monkeypatch):
    """A released name downloads ``flax_*_repeated.npz`` from its google repo."""
    from vpbehavior.models import checkpoints

    seen = {}

    def fake_download(repo, filename, **kwargs):
        seen.update(repo=repo, filename=filename)
        return FIX / "tiny_lvt_params.npz"

    monkeypatch.setattr(checkpoints, "hub_download", fake_download)
    model = VideoPrism.from_pretrained("videoprism_lvt_public_v1_base", config="tiny_lvt")
    assert seen == {"repo": "google/videoprism-lvt-base-f16r288", "filename": "flax_lvt_base_f16r288_repeated.npz"}
    assert isinstance(model, VideoPrismLvT)
