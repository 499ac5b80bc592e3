"""Checkpoint conversion completeness, our save/load format and hub loading (offline)."""

from __future__ import annotations

import json
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vpbehavior.core.errors import ConfigError, DataError, MissingFileError, VpbehaviorError
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
needs_fixtures = pytest.mark.skipif(not FIX.is_dir(), reason="parity fixtures not available")
RELEASED = json.loads((FIX / "base_param_shapes.json").read_text()) if FIX.is_dir() else {}


@needs_fixtures
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


@needs_fixtures
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


@needs_fixtures
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
    with pytest.raises(ConfigError, match="no_such_model"):
        get_config("no_such_model")
    assert get_config("google/videoprism-lvt-base-f16r288") == get_config("lvt_base")


@needs_fixtures
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


@needs_fixtures
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


@needs_fixtures
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
    with pytest.raises(ConfigError, match="not-a-model"):
        VideoPrism.from_pretrained("not-a-model")


@needs_fixtures
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


# --------------------------------------------------------------------------- user errors: one clear line
UNSAFE_ADVICE = ("weights_only=False", "weights_only", "allow_pickle")


def check_message(err: BaseException, *names: object) -> str:
    """The message is one line, names each of ``names`` and never suggests unsafe loading."""
    msg = str(err)
    assert isinstance(err, VpbehaviorError)
    assert "\n" not in msg and msg.strip() == msg, msg
    for name in names:
        assert str(name) in msg, (name, msg)
    for advice in UNSAFE_ADVICE:
        assert advice not in msg, msg
    return msg


@pytest.fixture(scope="module")
def tiny_model():
    return build_model("tiny", seed=0)


@pytest.fixture
def tiny_npz(tmp_path):
    """An official-layout .npz for the ``tiny`` config (random values)."""
    rng = np.random.default_rng(0)
    arrays = {k: rng.standard_normal(s).astype(np.float32) for k, s in flax_param_shapes("tiny").items()}
    path = tmp_path / "tiny.npz"
    np.savez(path, **arrays)
    return path, arrays


def test_unknown_config_name_lists_known_names():
    with pytest.raises(ConfigError) as info:
        build_model("tiniest")
    msg = check_message(info.value, "'tiniest'")
    assert all(name in msg for name in ("tiny", "base", "lvt_large", "videoprism_public_v1_base"))
    with pytest.raises(ConfigError, match="tiniest"):
        get_config("tiniest")


@pytest.mark.parametrize(
    "spec", ["./weights/vp.npz", "/abs/missing.safetensors", "weights/vp.npz", "model.pt", "a/b/c", "~/nope.ckpt"]
)
def test_missing_weights_path_is_file_not_found(tmp_path, monkeypatch, spec):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingFileError) as info:
        VideoPrism.from_pretrained(spec)
    msg = check_message(info.value, spec, "file not found")
    assert "neither" not in msg and "hub" not in msg
    with pytest.raises(MissingFileError):
        VideoPrism.from_pretrained(Path("no_suffix_but_a_path"))  # a Path is always a path
    with pytest.raises(MissingFileError, match="file not found"):
        VideoPrism.load(tmp_path / "gone.safetensors")
    with pytest.raises(MissingFileError, match="file not found"):
        VideoPrism.from_flax(tmp_path / "gone.npz")


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("not-a-model", "released VideoPrism name"),
        ("tiny", "no released weights"),
        ("someone/some-repo", "filename="),
    ],
)
def test_unusable_names_are_config_errors(spec, expected):
    with pytest.raises(ConfigError) as info:
        VideoPrism.from_pretrained(spec)
    check_message(info.value, repr(spec), expected)


def test_weights_folder_with_none_or_several_files(tmp_path, tiny_model):
    with pytest.raises(MissingFileError) as info:
        VideoPrism.from_pretrained(tmp_path)
    check_message(info.value, tmp_path, "no weights file")
    tiny_model.save(tmp_path / "a.safetensors")
    tiny_model.save(tmp_path / "b.pt")
    with pytest.raises(ConfigError) as info:
        VideoPrism.from_pretrained(tmp_path)
    check_message(info.value, tmp_path, "a.safetensors", "b.pt")


# ------------------------------------------------------------------ the hub, without a network
@pytest.fixture
def online(monkeypatch):
    """huggingface_hub in online mode whatever the environment says."""
    pytest.importorskip("huggingface_hub")
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_ETAG_TIMEOUT", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return monkeypatch


def test_released_name_offline_says_how_to_pass_a_file(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(ConfigError) as info:
        VideoPrism.from_pretrained("videoprism_public_v1_base", cache_dir=tmp_path / "hub")
    assert time.monotonic() - start < 3
    check_message(
        info.value,
        "flax_base_f16r288_repeated.npz",
        "google/videoprism-base-f16r288",
        "HF_HUB_OFFLINE",
        "on a machine with internet",
        "--weights /path/to/flax_base_f16r288_repeated.npz",
    )


def test_unreachable_hub_fails_at_once_with_a_local_file_hint(tmp_path, online):
    online.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # loopback port with nothing listening
    start = time.monotonic()
    with pytest.raises(ConfigError) as info:
        VideoPrism.from_pretrained("google/videoprism-lvt-base-f16r288", cache_dir=tmp_path / "hub")
    assert time.monotonic() - start < 3, "no retries with backoff"
    check_message(
        info.value,
        "cannot reach the Hugging Face hub",
        "http://127.0.0.1:9",
        "http://127.0.0.1:9/google/videoprism-lvt-base-f16r288/resolve/main/flax_lvt_base_f16r288_repeated.npz",
        "--weights /path/to/flax_lvt_base_f16r288_repeated.npz",
    )


@needs_fixtures
def test_unreachable_hub_uses_the_cached_file(tmp_path, online):
    online.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    cache = tmp_path / "hub"
    _fake_hub_cache(cache, "someone/tiny-videoprism", "tiny.npz", FIX / "tiny_video_params.npz")
    model = VideoPrism.from_pretrained("someone/tiny-videoprism", "tiny", filename="tiny.npz", cache_dir=cache)
    assert model.config.name == "tiny"


def test_hub_answering_not_found_is_one_line(tmp_path, online):
    import http.server
    import threading

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_HEAD

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        online.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        start = time.monotonic()
        with pytest.raises(ConfigError) as info:
            VideoPrism.from_pretrained("someone/repo", filename="w.safetensors", cache_dir=tmp_path / "hub")
        assert time.monotonic() - start < 5
    finally:
        server.shutdown()
        server.server_close()
    check_message(info.value, "w.safetensors", "someone/repo", "404", "--weights /path/to/w.safetensors")


def test_unreachable_hub_from_the_environment_in_a_fresh_process(tmp_path):
    """The variables as a user sets them: before huggingface_hub is imported."""
    pytest.importorskip("huggingface_hub")
    code = (
        "import sys, time; from vpbehavior.models.checkpoints import hub_download\n"
        "from vpbehavior.core.errors import ConfigError\n"
        "t = time.monotonic()\n"
        "try:\n"
        "    hub_download('google/videoprism-base-f16r288', 'flax_base_f16r288_repeated.npz', cache_dir=sys.argv[1])\n"
        "except ConfigError as err:\n"
        "    print(f'{time.monotonic() - t:.2f}', err)\n"
    )
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_OFFLINE"))}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "home"))
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and out.stdout, out.stderr
    seconds, msg = out.stdout.strip().split(" ", 1)
    assert float(seconds) < 3 and "\n" not in msg and "Retrying" not in out.stderr
    assert "cannot reach" in msg and "--weights /path/to/flax_base_f16r288_repeated.npz" in msg


# ------------------------------------------------------------------ unsafe and damaged files
class _RunsAShellCommand:
    """Unpickling this runs a shell command (what a malicious checkpoint would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt"])
def test_pickle_bearing_torch_file_is_refused(tmp_path, tiny_model, suffix):
    marker = tmp_path / "code-ran"
    path = tmp_path / f"evil{suffix}"
    state = dict(tiny_model.state_dict(), payload=_RunsAShellCommand(marker))
    torch.save({"config": json.dumps(tiny_model.config.to_dict()), "state_dict": state}, path)
    for load in (VideoPrism.load, VideoPrism.from_pretrained):
        with pytest.raises(DataError) as info:
            load(path)
        msg = check_message(info.value, path, "refused")
        assert "posix.system" in msg or "nt.system" in msg
        assert info.value.__cause__ is None and info.value.__suppress_context__  # torch's text stays out
    assert not marker.exists()


def _safetensors_bytes(tiny_model, tmp_path) -> bytes:
    return tiny_model.save(tmp_path / "good.safetensors").read_bytes()


@pytest.mark.parametrize(
    "case, expected",
    [
        ("garbage", "header length"),
        ("oversized", "claims 1099511627776 bytes"),
        ("longer_than_file", "only"),
        ("truncated", "truncated"),
        ("empty", "too short"),
        ("not_json", "not JSON"),
    ],
)
def test_damaged_safetensors(tmp_path, tiny_model, case, expected):
    good = _safetensors_bytes(tiny_model, tmp_path)
    data = {
        "garbage": bytes(range(256)) * 4,
        "oversized": struct.pack("<Q", 2**40) + b"{}",
        "longer_than_file": struct.pack("<Q", 5000) + b'{"a": 1}',
        "truncated": good[: len(good) - 100],
        "empty": b"",
        "not_json": struct.pack("<Q", 4) + b"\xff\xfe{[",
    }[case]
    path = tmp_path / f"{case}.safetensors"
    path.write_bytes(data)
    with pytest.raises(DataError) as info:
        VideoPrism.from_pretrained(path)
    check_message(info.value, path, expected)
    assert info.value.path == path


@pytest.mark.parametrize("case", ["truncated", "garbage", "empty"])
def test_damaged_torch_file(tmp_path, tiny_model, case):
    good = tiny_model.save(tmp_path / "good.pt").read_bytes()
    data = {"truncated": good[: len(good) // 2], "garbage": b"\x00\x01" * 300, "empty": b""}[case]
    path = tmp_path / f"{case}.pt"
    path.write_bytes(data)
    with pytest.raises(DataError) as info:
        VideoPrism.load(path)
    check_message(info.value, path, "not a readable torch checkpoint")


def test_npz_with_object_array_names_the_array(tmp_path, tiny_npz):
    _, arrays = tiny_npz
    path = tmp_path / "objects.npz"
    np.savez(path, **arrays, **{"params/evil": np.array([{"code": 1}], dtype=object)})
    with pytest.raises(DataError) as info:
        VideoPrism.from_pretrained(path)
    check_message(info.value, path, "'params/evil'", "Python objects")
    assert info.value.field == "params/evil"


@pytest.mark.parametrize("case", ["truncated", "garbage", "pickle", "npy"])
def test_damaged_npz(tmp_path, tiny_npz, case):
    import pickle

    good = tiny_npz[0].read_bytes()
    path = tmp_path / f"{case}.npz"
    if case == "npy":
        np.save(tmp_path / "one.npy", np.zeros(3))
        path.write_bytes((tmp_path / "one.npy").read_bytes())
    else:
        path.write_bytes(
            {
                "truncated": good[: len(good) // 2],
                "garbage": b"\x01\x02" * 200,
                "pickle": pickle.dumps({"a": 1}),
            }[case]
        )
    with pytest.raises(DataError) as info:
        VideoPrism.from_flax(path)
    check_message(info.value, path)


def test_npz_missing_expected_arrays(tmp_path, tiny_npz):
    _, arrays = tiny_npz
    # with the config inferred from shapes: a key the inference needs
    path = tmp_path / "no_patch.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if k != "params/patch_projection/linear/kernel"})
    with pytest.raises(DataError) as info:
        VideoPrism.from_pretrained(path)
    check_message(info.value, path, "'params/patch_projection/linear/kernel'")
    # with an explicit config: the first missing parameter
    path = tmp_path / "no_ln.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if k != "params/spatial_ln/scale"})
    with pytest.raises(DataError) as info:
        VideoPrism.from_flax(path, "tiny")
    check_message(info.value, path, "'params/spatial_ln/scale' is missing", "config 'tiny'")
    assert info.value.field == "params/spatial_ln/scale"


def test_npz_that_does_not_match_the_config(tmp_path, tiny_npz):
    path, _ = tiny_npz
    with pytest.raises(DataError) as info:
        VideoPrism.from_flax(path, get_config("tiny", mlp_dim=65))
    msg = check_message(info.value, path, "has shape (2, 32, 64), expected (2, 32, 65)")
    assert "ffn_layer1/linear/kernel" in msg
    assert VideoPrism.from_flax(path).config.name == "tiny"  # the good file loads


def test_checkpoint_that_does_not_match_its_config(tmp_path, tiny_model):
    from vpbehavior.models.checkpoints import save_checkpoint

    state = tiny_model.state_dict()
    wrong_shape = save_checkpoint(state, tiny_model.config.replace(mlp_dim=65), tmp_path / "shape.safetensors")
    with pytest.raises(DataError) as info:
        VideoPrism.load(wrong_shape)
    check_message(info.value, wrong_shape, "has shape", "expected", "ffn_layer1")

    first = next(iter(state))
    missing = save_checkpoint(
        {k: v for k, v in state.items() if k != first}, tiny_model.config, tmp_path / "missing.pt"
    )
    with pytest.raises(DataError) as info:
        VideoPrism.from_pretrained(missing)
    check_message(info.value, missing, f"{first!r} is missing")
    assert info.value.field == first

    extra = save_checkpoint(dict(state, bogus=torch.zeros(1)), tiny_model.config, tmp_path / "extra.safetensors")
    with pytest.raises(DataError) as info:
        VideoPrism.load(extra)
    check_message(info.value, extra, "'bogus' is unexpected")


def test_checkpoint_with_a_broken_config(tmp_path, tiny_model):
    from safetensors.torch import save_file

    path = tmp_path / "cfg.safetensors"
    save_file({"a": torch.zeros(2)}, str(path), metadata={"vpbehavior_config": "{not json"})
    with pytest.raises(DataError) as info:
        VideoPrism.load(path)
    check_message(info.value, path, "config is invalid")
    bad = dict(tiny_model.config.to_dict(), num_heads=3)  # 32 is not divisible by 3
    save_file({"a": torch.zeros(2)}, str(path), metadata={"vpbehavior_config": json.dumps(bad)})
    with pytest.raises(DataError) as info:
        VideoPrism.load(path)
    check_message(info.value, path, "num_heads")
