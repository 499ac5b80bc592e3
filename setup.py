"""vpbehavior: VideoPrism for animal behavior (package + napari plugin)."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "vpbehavior" / "_version.py").read_text()).group(1)

# Runtime requirements. torch is a range that the CPU build 2.13.0 satisfies (CI installs
# that build first, so pip does not pull a CUDA build). opencv is the headless build: the
# GUI build ships its own Qt plugins, which clash with napari's Qt binding.
INSTALL_REQUIRES = [
    "torch>=2.5,<3",
    "numpy>=1.24",
    "scipy>=1.10",
    "h5py>=3.8",
    "opencv-python-headless>=4.8",
    "av>=12",
    "Pillow>=9",
    "sleap-io>=0.9,<0.10",
    "matplotlib>=3.7",
    "tqdm>=4.60",
    "safetensors>=0.4",
    "huggingface_hub>=0.20",
    "sentencepiece>=0.1.99",
]

EXTRAS_REQUIRE = {
    "napari": ["napari>=0.5", "pyqt6"],
    "nwb": ["pynwb", "ndx-pose"],  # NWB pose files (ndx-pose), the form DANDI archives hold
    "dev": [
        "pytest>=7",
        "scikit-learn>=1.3",  # reference metrics the tests compare against
        "pandas>=1.5",
        "pytest-qt>=4.2",
        "pytest-xvfb>=3",
        "ruff>=0.4",
        "tables>=3.8",  # only to write DeepLabCut .h5 fixtures; vpbehavior reads them with h5py
        "napari>=0.5",
        "pyqt6",
        "pynwb",  # the nwb extra, so CI tests NWB pose files
        "ndx-pose",
        "nbclient>=0.7",  # tests/integration/test_notebooks.py runs examples/*.ipynb
        "nbformat>=5.7",  # also examples/_build.py, which writes them
        "ipykernel>=6",
    ],
}

setup(
    name="vpbehavior",
    version=VERSION,
    description="VideoPrism for animal behavior: datasets, encoder, pretraining, classifiers, napari",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["vpbehavior", "vpbehavior.*"]) + ["napari_vpbehavior"],
    package_dir={"napari_vpbehavior": "plugins/napari_vpbehavior"},
    package_data={"napari_vpbehavior": ["napari.yaml"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={
        "console_scripts": ["vpbehavior = vpbehavior.cli:main"],
        "napari.manifest": ["napari-vpbehavior = napari_vpbehavior:napari.yaml"],
    },
    classifiers=[
        "Framework :: napari",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Bio-Informatics",
    ],
)
