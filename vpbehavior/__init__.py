"""vpbehavior: VideoPrism for animal behavior.

`import vpbehavior` is cheap: it loads the data model only. Torch, h5py and video
decoders are imported by the subpackages that need them.
"""

from ._version import __version__
from .core import BehaviorLabels, Bout, Dataset, Pose, Recording


def load(path, format: str = "auto", **options) -> Dataset:
    """Load recordings from a dataset root, a split folder or a file (see `vpbehavior.io.registry.load`)."""
    from .io.registry import load as _load

    return _load(path, format=format, **options)


__all__ = ["__version__", "load", "BehaviorLabels", "Bout", "Dataset", "Pose", "Recording"]
