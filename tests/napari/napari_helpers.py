"""Helpers shared by the napari tests (this folder is on sys.path under pytest's default import mode)."""

from __future__ import annotations


def dock_widget(viewer, name):
    """Dock the plugin's widget ``name`` (its display name) and return it."""
    _, widget = viewer.window.add_plugin_dock_widget("vpbehavior", name)
    return widget


def find_ethogram(viewer, qtbot):
    """The ethogram widget the plugin docks by itself (waits for it)."""
    from napari_vpbehavior._widgets import EthogramWidget, _find_widget

    qtbot.waitUntil(lambda: _find_widget(viewer, EthogramWidget) is not None, timeout=5000)
    return _find_widget(viewer, EthogramWidget)
