"""Frozen-encoder and pose features.

Modules: `extract` (VideoPrism clips -> per-frame / per-subject embeddings), `cache` (the
HDF5 feature cache), `pose_features` (SimBA / MARS-style keypoint features), `sequences`
(recordings + features -> training sequences). Submodules import torch / h5py lazily.
"""
