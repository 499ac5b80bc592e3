"""Behaviour of the VideoPrism port beyond fixture parity (tiny random models, CPU)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from vpbehavior.models import VideoPrism, VideoPrismLvT, build_model  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    return build_model("tiny", seed=0).eval()


def test_shapes_any_frames_and_resolution(tiny):
    with torch.no_grad():
        out = tiny(torch.rand(2, 5, 60, 60, 3))
    assert out.embeddings.shape == (2, 5 * 25, 32) and out.spatial_features.shape == (2, 125, 32)
    with pytest.raises(ValueError, match="multiple of the patch"):
        tiny(torch.rand(1, 2, 40, 40, 3))
    with pytest.raises(ValueError, match="square"):
        tiny(torch.rand(1, 2, 36, 48, 3))


def test_token_subset_is_a_consistent_gather(tiny):
    video = torch.rand(2, 3, 36, 36, 3)
    with torch.no_grad():
        full = tiny(video)
        everything = tiny(video, token_indices=torch.arange(9))
        assert torch.equal(everything.embeddings, full.embeddings)
        idx = torch.tensor([7, 0, 4, 2])
        sub = tiny(video, token_indices=idx)
        assert sub.embeddings.shape == (2, 3 * 4, 32)
        # attention is permutation-equivariant once positions are added: reordering the
        # kept set reorders the outputs and changes nothing else
        perm = torch.tensor([2, 0, 3, 1])
        sub_p = tiny(video, token_indices=idx[perm])
        a = sub.embeddings.reshape(2, 3, 4, 32)[:, :, perm]
        torch.testing.assert_close(sub_p.embeddings.reshape(2, 3, 4, 32), a)
        # per-clip index sets [B, N_vis]
        per_clip = tiny(video, token_indices=torch.stack([idx, idx[perm]]))
        torch.testing.assert_close(per_clip.embeddings[0], sub.embeddings[0])
        torch.testing.assert_close(per_clip.embeddings[1], sub_p.embeddings[1])
        # and dropping tokens does change the remaining ones (they attend to fewer keys)
        full_kept = full.embeddings.reshape(2, 3, 9, 32)[:, :, idx]
        assert not torch.allclose(full_kept, sub.embeddings.reshape(2, 3, 4, 32))


def test_frame_paddings_isolate_real_frames(tiny):
    video = torch.rand(1, 4, 36, 36, 3)
    pads = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    with torch.no_grad():
        a = tiny(video, frame_paddings=pads).embeddings.reshape(1, 4, 9, 32)
        video2 = video.clone()
        video2[:, 2:] = torch.rand(1, 2, 36, 36, 3)
        b = tiny(video2, frame_paddings=pads).embeddings.reshape(1, 4, 9, 32)
    assert torch.isfinite(a).all()
    torch.testing.assert_close(a[:, :2], b[:, :2], rtol=1e-6, atol=1e-6)


def test_grad_checkpointing_same_gradients():
    torch.manual_seed(0)
    video = torch.rand(1, 2, 36, 36, 3)
    grads = []
    for ckpt in (False, True):
        model = build_model("tiny", seed=1).train()
        model.set_grad_checkpointing(ckpt)
        model(video).embeddings.square().mean().backward()
        grads.append(model.vision_encoder.patch_projection.linear.weight.grad.clone())
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1])


def test_bf16_autocast_close_to_fp32(tiny):
    video = torch.rand(1, 2, 36, 36, 3)
    with torch.no_grad():
        ref = tiny(video).embeddings
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = tiny(video).embeddings
    assert low.dtype == torch.bfloat16
    cos = torch.nn.functional.cosine_similarity(low.float(), ref, dim=-1)
    assert cos.min() > 0.99


def test_lvt_api_normalized_and_types():
    model = build_model("tiny_lvt", seed=0).eval()
    assert isinstance(model, VideoPrismLvT) and isinstance(model, VideoPrism)
    with torch.no_grad():
        v, f = model.encode_video(torch.rand(2, 4, 36, 36, 3))
        t = model.encode_text(torch.randint(1, 64, (3, 8)), torch.zeros(3, 8))
        raw = model.encode_text(torch.randint(1, 64, (3, 8)), normalize=False)
    assert v.shape == (2, 32) and f.shape == (2, 4, 32) and t.shape == (3, 32)
    torch.testing.assert_close(v.norm(dim=-1), torch.ones(2))
    torch.testing.assert_close(f.norm(dim=-1), torch.ones(2, 4))
    torch.testing.assert_close(t.norm(dim=-1), torch.ones(3))
    assert not torch.allclose(raw.norm(dim=-1), torch.ones(3))


def test_attention_impl_validation_and_switch(tiny):
    with pytest.raises(ValueError, match="attention_impl"):
        build_model("tiny", attention_impl="xformers")
    model = build_model("tiny", seed=0, attention_impl="eager").eval()
    video = torch.rand(1, 2, 36, 36, 3)
    with torch.no_grad():
        a = model(video).embeddings
        model.set_attention_impl("auto")
        assert model.config.attention_impl == "auto"
        b = model(video).embeddings
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_torch_compile(tiny, backend):
    compiled = torch.compile(tiny, backend=backend)
    video = torch.rand(1, 2, 36, 36, 3)
    with torch.no_grad():
        ref = tiny(video).embeddings
        out = compiled(video).embeddings
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_seeded_build_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = build_model("tiny", seed=7)
    b = build_model("tiny", seed=7)
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
