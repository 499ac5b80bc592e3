"""Token masks and the token shuffle of pretraining (numpy; drawn per clip in the data workers).

The factorized encoder runs on visible tokens only if every frame keeps the same spatial
positions (the spatial stage sees ``[B*T, N_vis, D]``, the temporal stage ``[B*N_vis, T, D]``),
so every mask here is one 2-D mask over the patch grid shared by all frames of a clip. That is a
*tube* mask in FLIP's terms (stage 1) and, for stage 2, our reading of the paper's "BEVT block
masking" under factorization (the paper does not say how the two combine).

All functions return the *visible* spatial positions, sorted, as row-major patch indices
(``n = row * grid_w + col``): exactly `FactorizedEncoder`'s ``token_indices``. Counts are exact
(``N - round(ratio * N)`` visible), so the clips of a batch stack.
"""

from __future__ import annotations

import math

import numpy as np


def n_visible(n_tokens: int, ratio: float) -> int:
    """Visible positions left when ``ratio`` of ``n_tokens`` are masked (at least one)."""
    return max(1, n_tokens - int(round(ratio * n_tokens)))


def tube_mask(grid: tuple[int, int], ratio: float, rng: np.random.Generator) -> np.ndarray:
    """FLIP-style random token dropping, one spatial set for every frame: visible indices ``[N_vis]``."""
    n = grid[0] * grid[1]
    keep = n_visible(n, ratio)
    return np.sort(rng.permutation(n)[:keep]).astype(np.int64)


def block_mask(
    grid: tuple[int, int],
    ratio: float,
    rng: np.random.Generator,
    min_block: int | None = None,
    aspect: float = 0.3,
) -> np.ndarray:
    """BEiT/BEVT block-wise masking on a ``grid`` of patches: visible indices ``[N_vis]``.

    Rectangular blocks of random area (at least ``min_block`` patches, at most what is still to
    be masked) and aspect ratio log-uniform in ``[aspect, 1/aspect]`` are masked until
    ``round(ratio * N)`` patches are; the last block is trimmed (its patches unmasked at random)
    so the count is exact. ``min_block`` defaults to BEiT's 16 of 196 patches scaled to the grid.
    """
    gh, gw = grid
    n = gh * gw
    target = n - n_visible(n, ratio)
    if min_block is None:
        min_block = max(1, int(round(16 / 196 * n)))
    mask = np.zeros((gh, gw), bool)
    count = 0
    log_lo, log_hi = math.log(aspect), math.log(1 / aspect)
    for _ in range(100 * n):
        if count >= target:
            break
        before = mask.copy()
        max_area = max(min_block, target - count)
        area = rng.uniform(min_block, max_area)
        ar = math.exp(rng.uniform(log_lo, log_hi))
        h = int(round(math.sqrt(area * ar)))
        w = int(round(math.sqrt(area / ar)))
        h, w = min(max(h, 1), gh), min(max(w, 1), gw)
        top = int(rng.integers(0, gh - h + 1))
        left = int(rng.integers(0, gw - w + 1))
        mask[top : top + h, left : left + w] = True
        count = int(mask.sum())
        if count > target:  # trim the newest block back to the exact count
            new = np.flatnonzero(mask & ~before)
            drop = rng.choice(new, size=count - target, replace=False)
            mask.flat[drop] = False
            count = target
    if count < target:  # pathological grids: finish with random patches
        free = np.flatnonzero(~mask)
        mask.flat[rng.choice(free, size=target - count, replace=False)] = True
    return np.flatnonzero(~mask.reshape(-1)).astype(np.int64)


def shuffle_permutation(n_slots: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random permutation of the ``n_slots`` decoder slots (the token shuffle)."""
    return rng.permutation(n_slots).astype(np.int64)
