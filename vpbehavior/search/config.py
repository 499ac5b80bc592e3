"""`SearchConfig`: how clips are cut and embedded and how hits are chosen (every field is a
`vpbehavior search` flag). Torch-free, so the command line builds its flags fast."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass

from vpbehavior._config import check_range, option

#: Fields that change only how fast embeddings are computed, not what they are.
RUNTIME_FIELDS = ("batch_size", "prefetch", "device", "top", "temperature")

#: The released video-text model: the default weights of `vpbehavior search`.
DEFAULT_LVT_WEIGHTS = "videoprism_lvt_public_v1_base"

#: The official zero-shot demo divides cosine similarities by 0.01 before the softmax over texts.
DEFAULT_TEMPERATURE = 0.01


@dataclass(frozen=True)
class SearchConfig:
    """Options of `vpbehavior.search` and `vpbehavior.zero_shot`.

    Zero means "the model's own value" for clip_length and size, and half a clip for stride;
    `resolved` fills them in from the model.
    """

    clip_length: int = option(0, "frames per clip (0: the model's, 16 for base)")
    stride: int = option(0, "frames between clip starts (0: half a clip)")
    size: int = option(0, "input resolution in pixels, a multiple of the patch size (0: the model's, 288 for base)")
    top: int = option(10, "hits kept per query (hits never overlap in time)")
    temperature: float = option(
        DEFAULT_TEMPERATURE, "softmax temperature over behaviors in zero-shot mode (cosine / temperature)"
    )
    batch_size: int = option(4, "clips per encoder call")
    prefetch: int = option(2, "decoded batches kept ready by the decoding thread")
    device: str = option("auto", "cpu, cuda, cuda:N or auto (bf16 autocast where the hardware runs it natively)")

    def __post_init__(self) -> None:
        for name in ("clip_length", "stride", "size"):
            check_range(self, name, 0, None)
        for name in ("top", "batch_size", "prefetch"):
            check_range(self, name, 1, None)
        check_range(self, "temperature", 0, None, open_low=True)

    def resolved(self, model) -> SearchConfig:
        """Defaults filled in from ``model`` and checked against it."""
        from vpbehavior.features.extract import resolve_clip_settings
        from vpbehavior.runtime import resolve_device

        length, stride, size = resolve_clip_settings(model, self.clip_length, self.stride, self.size)
        return dataclasses.replace(
            self, clip_length=length, stride=stride, size=size, device=resolve_device(self.device)
        )

    def provenance(self) -> dict:
        """The fields that decide what the clip embeddings are."""
        return {k: v for k, v in asdict(self).items() if k not in RUNTIME_FIELDS}
