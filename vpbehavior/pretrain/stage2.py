"""Stage 2: masked video modelling with global and token-wise distillation (paper Sec. 2.3.2, Alg. 1).

- **Teacher**: a frozen video model on the full clip. Its vision-tower tokens ``[B, T*N, D]``
  are the token targets; its global embedding is the global target: the LvT auxiliary layers +
  contrastive pooler (the stage-1 head the paper names) when the teacher has them, else the mean
  of its tokens (our choice for a plain video teacher, e.g. ``videoprism_public_v1_base``; the
  paper's teacher always has its pooler).
- **Student**: a copy of the teacher's vision tower (or ``student`` weights), run on the visible
  tokens of a BEVT block mask (ratio 0.65, one 2-D mask for every frame of a clip).
- **Token branch** (`TokenDecoder`): MASK tokens fill the masked positions, the sequence is
  shuffled, slot embeddings are added after the shuffle, 4 decoder layers; cosine distance to
  the teacher's token at each slot's position, averaged over all ``T * N`` tokens.
- **Global branch** (`GlobalDecoder`): 4 layers + attention pooler over the visible tokens;
  cosine distance to the teacher's global embedding.
- Loss: ``token_weight * token + global_weight * global`` (equal weights in the paper).

The output is the student's encoder, a plain video model.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from vpbehavior.models import VideoPrism

from .heads import GlobalDecoder, TokenDecoder, cosine_distance, decoder_shape, token_targets
from .task import Task, encoder_flops, layer_flops, lvt_head_flops, pooler_flops
from .weights import save_weights, video_config


class DistillationTask(Task):
    """Teacher, student encoder and the two decoders (see the module docstring)."""

    stage = "stage2"
    frozen_prefixes = ("teacher",)

    def __init__(
        self,
        teacher: VideoPrism,
        student: VideoPrism | None = None,
        *,
        decoder_layers: int = 4,
        decoder_dim: int = 0,
        decoder_heads: int = 0,
        token_weight: float = 1.0,
        global_weight: float = 1.0,
        shuffle: bool = True,
    ) -> None:
        super().__init__()
        cfg = teacher.config
        self.config = cfg
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        source = student if student is not None else teacher
        if source.config.model_dim != cfg.model_dim:
            raise ValueError("the student must have the teacher's width")
        self.student = copy.deepcopy(source.vision_encoder).train()
        for p in self.student.parameters():
            p.requires_grad_(True)
        self.student_config = source.config
        impl = cfg.attention_impl
        self.decoder_width, self.decoder_heads = decoder_shape(cfg.model_dim, decoder_dim, decoder_heads)
        self.decoder_layers = decoder_layers
        cap = cfg.atten_logit_cap
        self.token_decoder = TokenDecoder(
            cfg.model_dim, cfg.pos_emb_shape, decoder_dim, decoder_heads, decoder_layers, cap, impl
        )
        self.global_decoder = GlobalDecoder(cfg.model_dim, decoder_dim, decoder_heads, decoder_layers, cap, impl)
        self.token_weight = float(token_weight)
        self.global_weight = float(global_weight)
        self.shuffle = bool(shuffle)

    def prepare(self, device, amp_dtype, sharded: bool) -> None:
        # A frozen teacher only runs forward: keep it in bf16 on GPU (half the memory) unless
        # FSDP shards it (FSDP wants one dtype per unit).
        if amp_dtype is torch.bfloat16 and torch.device(device).type == "cuda" and not sharded:
            self.teacher.to(torch.bfloat16)

    @torch.no_grad()
    def targets(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The teacher's tokens ``[B, T*N, D]`` and global embedding ``[B, D]`` on the full clip."""
        teacher = self.teacher
        tokens = teacher.vision_encoder(video)[0]
        if teacher.config.is_lvt:
            pooled = teacher.contrastive_vision_pooler(teacher.auxiliary_encoder(tokens))[:, 0]
        else:
            pooled = tokens.mean(1)
        return tokens.float(), pooled.float()

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        video = batch["video"].float().div_(255.0)
        b, t, h, w, _ = video.shape
        grid = self.student.grid_size(h, w)
        visible = batch["visible"]
        perm = batch.get("perm") if self.shuffle else None
        teacher_tokens, teacher_global = self.targets(video)
        tokens = self.student(video, token_indices=visible)[0]  # [B, T * N_vis, D]
        pred = self.token_decoder(tokens, visible, perm, t, grid)  # slot order
        token_loss = cosine_distance(pred, token_targets(teacher_tokens, perm)).mean()
        global_loss = cosine_distance(self.global_decoder(tokens), teacher_global).mean()
        loss = self.token_weight * token_loss + self.global_weight * global_loss
        return loss, {"token_loss": token_loss.detach(), "global_loss": global_loss.detach()}

    def flops(self, batch: dict) -> float:
        b, t, h, w, _ = batch["video"].shape
        gh, gw = self.student.grid_size(h, w)
        n, nv = gh * gw, batch["visible"].shape[1]
        cfg, d = self.config, self.decoder_width
        teacher = encoder_flops(cfg, b, t, n) + (lvt_head_flops(cfg, b, t * n) if cfg.is_lvt else 0.0)
        student = encoder_flops(self.student_config, b, t, nv)
        dec = self.decoder_layers * (
            layer_flops(b * t * n, t * n, d, 4 * d) + layer_flops(b * t * nv, t * nv, d, 4 * d)
        )
        proj = 2.0 * (b * t * (n + nv)) * (2 * cfg.model_dim * d + 2 * d * d + cfg.model_dim**2)
        pool = pooler_flops(b, t * nv, d, 4 * d)
        return teacher + 3.0 * (student + dec + proj + pool)

    def export(self, out: Path, state_dict: dict, provenance: dict) -> list[Path]:
        prefix = "student."
        encoder = {"vision_encoder." + k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        cfg = video_config(self.student_config, f"{self.student_config.name}+stage2")
        return [save_weights(Path(out) / "stage2_encoder.safetensors", encoder, cfg, provenance)]
