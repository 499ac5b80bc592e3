"""Streaming decoders for `PyAVReader.iter_frames`: PyAV built in, a hook for GPU decoders.

``reader.iter_frames(..., decoder=NAME)`` streams frames through the decoder registered under
``NAME``. ``"pyav"`` (FFmpeg through PyAV, threaded, scaling and RGB conversion in one
swscale step) is built in and is what ``"auto"`` picks. A GPU decoder (torchcodec, NVDEC
through PyAV's hardware contexts, ...) is not a dependency of vpbehavior; where one is
installed it plugs in here::

    from vpbehavior.io.video import register_stream_decoder

    def torchcodec_frames(path, seek_pts, size):
        ...  # seek to the keyframe at or before seek_pts (None: the start), then yield
        ...  # (pts, uint8 [H, W, 3] RGB frame at `size` = (width, height) or native size)

    register_stream_decoder("torchcodec", torchcodec_frames)

A decoder yields ``(pts, frame)`` in presentation order; the reader maps every pts onto its
frame index and refuses a stream whose frames come out of step (a dropped, repeated or
shifted frame raises `VideoError`), so a plugged-in decoder cannot silently break frame
accuracy. External decoders are used only for files with a timestamps index (see
`FrameIndex.exact`); files indexed by decoding need the built-in decoder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from vpbehavior.core.errors import ConfigError

#: ``factory(path, seek_pts, size) -> Iterator[(pts, frame)]``; ``seek_pts`` None: from the start.
StreamDecoder = Callable[[Path, "int | None", "tuple[int, int] | None"], Iterator[tuple[int, np.ndarray]]]

BUILTIN = "pyav"
#: names known to need a package vpbehavior does not depend on (their hint in the error)
_KNOWN_EXTERNAL = {
    "torchcodec": "pip install torchcodec (CUDA build for NVDEC)",
    "nvdec": "an FFmpeg / PyAV build with CUDA hardware decoding",
}
_REGISTRY: dict[str, StreamDecoder] = {}


def register_stream_decoder(name: str, factory: StreamDecoder) -> None:
    """Make ``factory`` available as ``iter_frames(decoder=name)`` (see the module docstring)."""
    if name in (BUILTIN, "auto"):
        raise ConfigError(f"decoder name {name!r} is reserved")
    _REGISTRY[name] = factory


def available_decoders() -> list[str]:
    """Names ``iter_frames(decoder=...)`` accepts now."""
    return [BUILTIN, *sorted(_REGISTRY)]


def resolve_decoder(name: str | None) -> StreamDecoder | None:
    """The registered decoder called ``name``; None for the built-in PyAV path."""
    if name in (None, "auto", BUILTIN):
        return None
    if name in _REGISTRY:
        return _REGISTRY[name]
    hint = _KNOWN_EXTERNAL.get(name)
    more = f"; it needs {hint} and a decoder registered with register_stream_decoder({name!r}, ...)" if hint else ""
    raise ConfigError(f"video decoder {name!r} is not available (available: {', '.join(available_decoders())}){more}")
