"""napari plugin for vpbehavior (widgets arrive with the napari issue; the manifest is registered now)."""

from vpbehavior import __version__

__all__ = ["__version__"]
