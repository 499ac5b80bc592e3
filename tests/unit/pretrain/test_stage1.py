"""Stage 1: the symmetric InfoNCE, the temperature, token dropping, captions, and learning."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vpbehavior.models import build_model
from vpbehavior.pretrain.stage1 import ContrastiveTask, same_caption


def _batch(b=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    video = torch.randint(0, 256, (b, 4, 36, 36, 3), generator=g, dtype=torch.uint8)
    ids = torch.randint(3, 60, (b, 8), generator=g)
    pads = torch.zeros(b, 8)
    pads[:, 6:] = 1
    return {"video": video, "text_ids": ids, "text_paddings": pads}


def test_loss_is_the_symmetric_infonce_with_the_learned_scale():
    model = build_model("tiny_lvt", seed=0)
    task = ContrastiveTask(model, temperature=0.1).eval()
    batch = _batch()
    loss, parts = task(batch)
    with torch.no_grad():
        v, _ = model.encode_video(batch["video"].float() / 255)
        t = model.encode_text(batch["text_ids"], batch["text_paddings"])
    logits = 10.0 * v @ t.T
    labels = torch.arange(3)
    want = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
    torch.testing.assert_close(loss, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(parts["temperature"], torch.tensor(0.1), rtol=1e-5, atol=1e-6)
    loss.backward()
    assert task.logit_scale.grad is not None and task.logit_scale.grad != 0
    frozen = ContrastiveTask(build_model("tiny_lvt", seed=0), learn_temperature=False)
    assert not frozen.logit_scale.requires_grad
    with torch.no_grad():  # the scale is capped at 100
        task.logit_scale.fill_(10.0)
    torch.testing.assert_close(task(batch)[1]["temperature"], torch.tensor(0.01))


def test_identical_captions_are_positives_of_each_other():
    ids = torch.tensor([[1, 2, 0], [1, 2, 0], [3, 4, 0]])
    targets = same_caption(ids, ids)
    torch.testing.assert_close(targets, torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]))


def test_token_dropping_feeds_only_the_visible_positions():
    model = build_model("tiny_lvt", seed=0)
    task = ContrastiveTask(model)
    batch = {**_batch(), "visible": torch.tensor([[0, 4, 8, 2]] * 3)}
    seen = []

    def record(module, inputs, output):
        seen.append(inputs[0].shape)

    model.vision_encoder.spatial_encoder.register_forward_hook(record)
    task.train()(batch)
    task.eval()(batch)
    assert seen == [(12, 4, 32), (12, 9, 32)]  # dropped in training only


def test_a_few_steps_lower_the_loss(videos, spm_model, tmp_path, tiny):
    from vpbehavior.pretrain.config import Stage1Config
    from vpbehavior.pretrain.run import build_stage1

    cfg = Stage1Config(
        data=(str(videos),), weights="random:tiny_lvt", tokenizer=str(spm_model), out=str(tmp_path / "s1"),
        steps=40, lr=1e-3, token_drop=0.5, clip_stride=24, checkpoint_every=100, min_crop=1.0, hflip=False,
        **{**tiny, "size": 36, "batch_size": 8},
    )  # fmt: skip
    trainer = build_stage1(cfg)
    ds = trainer.dataset
    assert ds[0]["text_ids"].shape == (64,) and "visible" in ds[0]
    keys = list(range(len(ds)))  # 9 windows: every step sees most of them

    def loss() -> float:
        trainer.task.eval()
        with torch.no_grad():
            batch = {k: torch.stack([ds[i][k] for i in keys]) for k in ds[0]}
            return float(trainer.task(batch)[0])

    before = loss()
    result = trainer.fit()
    after = loss()
    assert after < before - 0.05, (before, after)  # a fixed set, no augmentation: deterministic
    assert result.outputs[0].name == "stage1_lvt.safetensors"


def test_from_scratch_models_see_centred_pixels():
    from vpbehavior.models.encoder import patchify
    from vpbehavior.pretrain.weights import load_model

    model, origin = load_model("random:tiny", seed=0)
    plain = build_model("tiny", seed=0)
    assert origin == "random:tiny:seed0"
    gray = torch.full((1, 36, 36, 3), 0.5)
    projection = model.vision_encoder.patch_projection
    torch.testing.assert_close(projection(patchify(gray, 12)), torch.zeros(1, 9, 32), atol=1e-5, rtol=0)
    ref = plain.vision_encoder.patch_projection.linear.weight
    torch.testing.assert_close(projection.linear.weight, ref * 4)  # 1 / pixel std 0.25
    for name, p in model.state_dict().items():  # nothing else differs from build_model's init
        if "patch_projection" not in name:
            assert torch.equal(p, plain.state_dict()[name]), name
