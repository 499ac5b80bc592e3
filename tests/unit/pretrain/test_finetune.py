"""Fine-tuning: targets, learning rates by depth, learning, and outputs that load as encoders."""

from __future__ import annotations

import pytest
import torch

from vpbehavior.models import build_model
from vpbehavior.pretrain.finetuning import FinetuneTask, encoder_layer_id


def test_layer_wise_decay_and_lower_encoder_rate():
    task = FinetuneTask(build_model("tiny", seed=0), ["a", "b"], encoder_lr_scale=0.1, layer_decay=0.5)
    # tiny: 2 spatial + 1 temporal layers -> depth 4 (patch 0, spatial 1-2, temporal 4, last norm 4)
    assert encoder_layer_id("patch_projection.linear.weight", 2, 1) == 0
    assert encoder_layer_id("spatial_encoder.layers.1.layer_norm.weight", 2, 1) == 2
    assert encoder_layer_id("temporal_encoder.layers.0.ff_layer.layer_norm.bias", 2, 1) == 4
    assert task.lr_scale("head.classifier.weight") == 1.0
    assert task.lr_scale("encoder.temporal_ln.weight") == pytest.approx(0.1)
    assert task.lr_scale("encoder.patch_projection.linear.weight") == pytest.approx(0.1 * 0.5**4)
    groups = task.param_groups(0.05)
    by_name = {n: (g["lr_scale"], g["weight_decay"]) for g in groups for n in g["names"]}
    assert by_name["head.classifier.weight"] == (1.0, 0.05)
    assert by_name["head.classifier.bias"] == (1.0, 0.0)
    assert by_name["encoder.spatial_pos_emb.emb_var"][1] == 0.0  # embeddings: no decay
    assert by_name["head.pooler.pooling_attention_query"][1] == 0.0
    assert by_name["encoder.spatial_encoder.layers.0.layer_norm.weight"][1] == 0.0
    assert by_name["encoder.spatial_encoder.layers.0.self_attention.query.weight"] == (
        pytest.approx(0.1 * 0.5**3),
        0.05,
    )


def test_loss_ignores_unannotated_cells():
    task = FinetuneTask(build_model("tiny", seed=0), ["a", "b"], dropout=0.0).eval()
    video = torch.randint(0, 256, (2, 4, 36, 36, 3), dtype=torch.uint8)
    targets = torch.tensor([[1, -1], [0, -1]], dtype=torch.int8)
    loss, _ = task({"video": video, "targets": targets})
    logits = task.logits(video.float() / 255)[:, 0]
    want = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(loss, want)


def test_a_few_steps_lower_the_loss_and_the_encoder_loads_anywhere(videos, tmp_path, tiny):
    import vpbehavior as vpb
    from vpbehavior.pretrain.config import FinetuneConfig
    from vpbehavior.pretrain.run import build_finetune

    cfg = FinetuneConfig(
        data=(str(videos),), weights="random:tiny", out=str(tmp_path / "ft"), steps=15, lr=3e-3, dropout=0.0,
        clip_stride=8, min_crop=1.0, hflip=False, checkpoint_every=100, **{**tiny, "size": 36, "batch_size": 8},
    )  # fmt: skip
    trainer = build_finetune(cfg)
    ds = trainer.dataset
    assert ds[0]["targets"].dtype == torch.int8 and len(trainer.task.classes) >= 2

    def loss() -> float:
        trainer.task.eval()
        with torch.no_grad():
            batch = {k: torch.stack([ds[i][k] for i in range(len(ds))]) for k in ds[0]}
            return float(trainer.task(batch)[0])

    before = loss()
    result = trainer.fit()
    after = loss()
    assert after < before - 0.05, (before, after)
    encoder_file, head_file = result.outputs
    encoder = vpb.load_encoder(str(encoder_file))  # --weights path works the same way
    provenance = vpb.read_provenance(encoder_file)
    assert provenance["stage"] == "finetune" and provenance["started_from"] == "random:tiny:seed0"
    assert provenance["classes"] == list(trainer.task.classes) and provenance["steps"] == 15
    trained = trainer.task.encoder.state_dict()
    for k, v in encoder.vision_encoder.state_dict().items():
        assert torch.equal(v, trained[k].cpu())
    assert head_file.is_file()
    # the fine-tuned encoder plugs into extraction like any encoder
    rec = vpb.load(videos).recordings[0]
    res = vpb.extract_features([rec], encoder, vpb.ExtractConfig(size=36, token_grid=0, subjects=False),
                               cache=tmp_path / "feats")  # fmt: skip
    assert res.ok
