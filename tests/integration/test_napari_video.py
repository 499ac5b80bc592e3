"""The video reader is array-like enough for napari: a lazy image layer that renders real frames."""

import numpy as np
import pytest

from vpbehavior.io.video import open_video

pytest.importorskip("napari")


def test_reader_as_napari_layer_renders_the_requested_frame(make_napari_viewer, shared_dir):
    reader = open_video(shared_dir / "recordings/sleap_fly_pair/centered_pair_low_quality.mp4")
    viewer = make_napari_viewer(show=True)
    layer = viewer.add_image(reader, rgb=True, name="flies")
    assert layer.data.shape == (1100, 384, 384, 3)
    viewer.dims.set_current_step(0, 700)
    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert shot.ndim == 3 and (shot[..., :3] > 0).mean() > 0.3  # a real frame, not a black canvas
    # the displayed slice is exactly frame 700 as decoded sequentially
    expected = next(reader.iter_frames(700, 701))
    np.testing.assert_array_equal(np.asarray(layer._slice.image.raw), expected)
