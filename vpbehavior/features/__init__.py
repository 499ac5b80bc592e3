"""Frozen-encoder and pose features.

Modules: `extract` (VideoPrism clips -> per-frame / per-subject embeddings; `extract_features`
for many recordings), `cache` (the HDF5 feature cache), `pose_features` (SimBA / MARS-style
keypoint features). Submodules import torch / h5py lazily.
"""
