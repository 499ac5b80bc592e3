"""napari plugin for vpbehavior: the video with its ethogram under it, annotation, train and predict.

Contributions (``napari.yaml``): readers for videos, predictions files, label files, BORIS
exports, SLEAP .slp and DeepLabCut pose; sample data; the Ethogram, Annotation, Train & predict,
Experiment and Text search widgets; settings. Importing this package is cheap: Qt, napari and torch are
imported by the modules napari loads on use (torch only inside the worker threads).
"""

from vpbehavior import __version__

__all__ = ["__version__"]
