"""Stage 2: mask tokens, the token shuffle, slot-aligned targets, both losses, and learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vpbehavior.models import build_model
from vpbehavior.pretrain.heads import cosine_distance, fill_masked, shuffle_slots, token_targets
from vpbehavior.pretrain.masking import block_mask, shuffle_permutation
from vpbehavior.pretrain.stage2 import DistillationTask


def _batch(b=2, t=4, size=36, ratio=0.65, seed=0):
    rng = np.random.default_rng(seed)
    g = size // 12
    video = torch.from_numpy(rng.integers(0, 256, (b, t, size, size, 3), dtype=np.uint8))
    visible = torch.from_numpy(np.stack([block_mask((g, g), ratio, rng) for _ in range(b)]))
    perm = torch.from_numpy(np.stack([shuffle_permutation(t * g * g, rng) for _ in range(b)]))
    return {"video": video, "visible": visible, "perm": perm}


def test_fill_masked_puts_visible_tokens_at_their_positions():
    b, t, n, d = 2, 3, 9, 4
    visible = torch.tensor([[0, 4, 8], [1, 2, 7]])
    tokens = torch.randn(b, t * 3, d)
    mask = torch.full((1, 1, d), 7.0)
    full = fill_masked(tokens, visible, mask, n)
    assert full.shape == (b, t * n, d)
    for bi in range(b):
        for ti in range(t):
            for j, pos in enumerate(visible[bi].tolist()):
                assert torch.equal(full[bi, ti * n + pos], tokens[bi, ti * 3 + j])
            hidden = [p for p in range(n) if p not in visible[bi].tolist()]
            assert (full[bi, ti * n + torch.tensor(hidden)] == 7.0).all()


def test_shuffle_moves_tokens_and_targets_stay_in_slot_order():
    x = torch.arange(2 * 6, dtype=torch.float32).reshape(2, 6, 1)
    perm = torch.tensor([[3, 0, 5, 1, 4, 2], [0, 1, 2, 3, 4, 5]])
    out = shuffle_slots(x, perm)
    assert out[0, :, 0].tolist() == [3.0, 0.0, 5.0, 1.0, 4.0, 2.0] and torch.equal(out[1], x[1])
    assert torch.equal(token_targets(x, perm), x)  # slot i is compared with position i


def test_each_slot_is_compared_with_the_teacher_token_of_its_position():
    """With no masking the student equals the teacher, so its full sequence *is* the teacher's tokens.

    A decoder that returns its (shuffled) input unchanged gets the loss of comparing
    ``teacher[perm[i]]`` with ``teacher[i]``: far from 0. An oracle that puts every token back in
    its place gets loss 0. Both fail if targets were taken in shuffled order (then the first would
    be 0 and the second not).
    """
    teacher = build_model("tiny", seed=0).eval()
    task = DistillationTask(teacher, decoder_layers=1).eval()
    batch = _batch(ratio=0.0)
    assert batch["visible"].shape[1] == 9  # nothing masked
    torch.nn.init.zeros_(task.token_decoder.slot_spatial_emb.emb_var)
    torch.nn.init.zeros_(task.token_decoder.slot_temporal_emb.emb_var)
    video = batch["video"].float() / 255
    with torch.no_grad():
        teacher_tokens, _ = task.targets(video)
        student_tokens = task.student(video, token_indices=batch["visible"])[0]
    torch.testing.assert_close(student_tokens, teacher_tokens, rtol=0, atol=1e-6)

    perm = batch["perm"]
    shuffled_teacher = shuffle_slots(teacher_tokens, perm)
    expected = cosine_distance(shuffled_teacher, teacher_tokens).mean()
    assert expected > 0.05  # random-init tokens are alike, but far from identical

    task.token_decoder.decode = lambda slots: slots  # identity decoder
    with torch.no_grad():
        _, parts = task(dict(batch))
    torch.testing.assert_close(parts["token_loss"], expected, rtol=1e-5, atol=1e-5)

    inverse = torch.argsort(perm, dim=1)
    task.token_decoder.decode = lambda slots: shuffle_slots(slots, inverse)  # an oracle that unshuffles
    with torch.no_grad():
        _, parts = task(dict(batch))
    assert float(parts["token_loss"]) < 1e-5


def test_masked_student_sees_only_visible_tokens_and_teacher_is_frozen():
    teacher = build_model("tiny_lvt", seed=0)
    task = DistillationTask(teacher, decoder_layers=1)
    batch = _batch()
    seen = {}

    def record(module, inputs, output):
        seen["shape"] = inputs[0].shape

    hook = task.student.spatial_encoder.register_forward_hook(record)
    loss, parts = task(batch)
    hook.remove()
    assert seen["shape"] == (2 * 4, 3, 32)  # [B*T, N_vis, D]: 3 of 9 positions visible at 0.65
    loss.backward()
    assert all(p.grad is None for p in task.teacher.parameters())
    assert (
        task.token_decoder.mask_token.grad is not None
        and task.global_decoder.pooler.pooling_attention_query.grad is not None
    )
    assert set(parts) == {"token_loss", "global_loss"}
    torch.testing.assert_close(loss, parts["token_loss"] + parts["global_loss"])
    task.train()
    assert not task.teacher.training and task.student.training
    # the LvT teacher's global target is its pooler's embedding
    video = batch["video"].float() / 255
    _, global_target = task.targets(video)
    with torch.no_grad():
        want = teacher.pool_tokens(teacher.vision_encoder(video)[0], 4, normalize=False)[0]
    torch.testing.assert_close(global_target, want)


def _dataset_loss(trainer) -> float:
    task, ds = trainer.task, trainer.dataset
    task.eval()
    with torch.no_grad():
        batch = {k: torch.stack([ds[i][k] for i in range(len(ds))]) for k in ds[0]}
        return float(task(batch)[0])


def test_a_few_steps_lower_the_loss(videos, tmp_path, tiny):
    from vpbehavior.pretrain.config import Stage2Config
    from vpbehavior.pretrain.run import build_stage2

    cfg = Stage2Config(
        data=(str(videos),), weights="random:tiny_lvt", out=str(tmp_path / "s2"), steps=12, lr=2e-3,
        decoder_layers=1, clip_stride=28, checkpoint_every=100, **{**tiny, "size": 36},
    )  # fmt: skip
    trainer = build_stage2(cfg)
    before = _dataset_loss(trainer)
    result = trainer.fit()
    after = _dataset_loss(trainer)
    assert after < 0.8 * before, (before, after)
    assert len(result.losses) == 12 and result.outputs[0].name == "stage2_encoder.safetensors"


@pytest.mark.parametrize("shuffle", [False])
def test_without_shuffle_no_permutation_is_drawn(videos, tmp_path, shuffle, tiny):
    from vpbehavior.pretrain.config import Stage2Config
    from vpbehavior.pretrain.run import build_stage2

    cfg = Stage2Config(data=(str(videos),), weights="random:tiny", out=str(tmp_path), shuffle=shuffle, **tiny)
    trainer = build_stage2(cfg)
    assert "perm" not in trainer.dataset[0] and "visible" in trainer.dataset[0]
