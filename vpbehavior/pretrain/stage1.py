"""Stage 1: video-text contrastive training (paper Sec. 2.3.1, App. C.1).

The video embedding is the LvT path: vision tower -> auxiliary layers -> contrastive attention
pooler -> L2 normalization; the text embedding is the text tower's class token, normalized. The
loss is the symmetric InfoNCE over every video-text pair of the batch (all processes' clips are
gathered, with gradients, so N processes see the negatives one process would), with a learnable
logit scale ``exp(s)``, ``s`` initialized at ``log(1 / temperature)`` and capped at ``log(100)``
(CLIP's rule; the paper does not state its temperature).

Our choices where the paper is silent: captions that are identical in a batch (frequent when
they come from behavior labels) are all positives of each other, the target mass spread evenly
over them, instead of being pushed apart as false negatives. Negatives are the clips of one
micro-batch step (over all processes); gradient accumulation does not enlarge them.

FLIP-style token dropping (tube masking, default 0.5): during training the encoder sees a random
half of the spatial positions, the same in every frame.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from vpbehavior.models import VideoPrismLvT
from vpbehavior.models.lvt import l2_normalize

from .task import Task, encoder_flops, lvt_head_flops, text_flops
from .weights import save_weights

MAX_LOGIT_SCALE = math.log(100.0)


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums every process's gradient of the gathered tensor
    and returns this process's slice (the exact gradient of a loss computed on all ranks)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        world = dist.get_world_size()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        return torch.cat(parts, 0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def gather(x: torch.Tensor, with_grad: bool = True) -> tuple[torch.Tensor, int]:
    """``(x of every process concatenated, offset of this process's rows)``."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x, 0
    offset = dist.get_rank() * x.shape[0]
    if with_grad:
        return _GatherWithGrad.apply(x), offset
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, 0), offset


def same_caption(ids_rows: torch.Tensor, ids_all: torch.Tensor) -> torch.Tensor:
    """``[R, B]`` soft targets: row ``i`` spread evenly over the captions equal to caption ``i``."""
    eq = (ids_rows[:, None, :] == ids_all[None, :, :]).all(-1).float()
    return eq / eq.sum(1, keepdim=True)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * F.log_softmax(logits.float(), dim=-1)).sum(-1).mean()


class ContrastiveTask(Task):
    """The LvT model with a learnable temperature (see the module docstring)."""

    stage = "stage1"

    def __init__(self, model: VideoPrismLvT, temperature: float = 0.07, learn_temperature: bool = True) -> None:
        super().__init__()
        if not model.config.is_lvt:
            raise ValueError("stage 1 needs a video-text (LvT) model")
        self.model = model.train()
        self.config = model.config
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)), requires_grad=learn_temperature)

    def video_embeddings(self, video: torch.Tensor, visible: torch.Tensor | None = None) -> torch.Tensor:
        """Normalized clip embeddings ``[B, D]`` (on the ``visible`` spatial positions when given)."""
        m = self.model
        tokens = m.vision_encoder(video, token_indices=visible)[0]
        return l2_normalize(m.contrastive_vision_pooler(m.auxiliary_encoder(tokens))[:, 0].float())

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        video = batch["video"].float().div_(255.0)
        visible = batch.get("visible") if self.training else None
        v = self.video_embeddings(video, visible)
        t = self.model.encode_text(batch["text_ids"], batch["text_paddings"]).float()
        v_all, _ = gather(v)
        t_all, _ = gather(t)
        ids_all, _ = gather(batch["text_ids"], with_grad=False)
        ids = batch["text_ids"]
        scale = self.logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()
        targets = same_caption(ids, ids_all)  # [b, B]: local rows against every clip
        v2t = soft_cross_entropy(scale * v @ t_all.T, targets)
        t2v = soft_cross_entropy(scale * t @ v_all.T, targets)
        loss = 0.5 * (v2t + t2v)
        with torch.no_grad():  # share of clips whose most similar caption is one of theirs
            top1 = (targets[torch.arange(len(v)), (v @ t_all.T).argmax(1)] > 0).float().mean()
        return loss, {"v2t_top1": top1, "temperature": (1.0 / scale).detach()}

    def flops(self, batch: dict) -> float:
        b, t, h, w, _ = batch["video"].shape
        gh, gw = self.model.vision_encoder.grid_size(h, w)
        nv = batch["visible"].shape[1] if "visible" in batch else gh * gw
        cfg = self.config
        fwd = encoder_flops(cfg, b, t, nv) + lvt_head_flops(cfg, b, t * nv)
        fwd += text_flops(cfg, b, batch["text_ids"].shape[1])
        return 3.0 * fwd

    def export(self, out: Path, state_dict: dict, provenance: dict) -> list[Path]:
        prefix = "model."
        weights = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        cfg = self.config.replace(name=f"{self.config.name}+stage1", hf_repo=None, hf_filename=None)
        scale = float(state_dict["logit_scale"].clamp(max=MAX_LOGIT_SCALE).exp())
        provenance = {**provenance, "logit_scale": scale}
        return [save_weights(Path(out) / "stage1_lvt.safetensors", weights, cfg, provenance)]
