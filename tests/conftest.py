"""Test suite configuration: fixtures come from the package's testing plugin; markers are registered here.

Layout: ``tests/unit/<package>/`` tests one package in isolation; ``tests/integration/`` runs the
API, the CLI, the demo and napari end to end.
"""

pytest_plugins = ["vpbehavior.testing.fixtures"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than ~10 s on 2 cores (still run by default)")
    config.addinivalue_line("markers", "napari: needs napari and a (virtual) display")
    config.addinivalue_line("markers", "gpu: needs a CUDA device (skipped without one)")
