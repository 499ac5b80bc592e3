"""Writers of dataset files in each format's real on-disk layout, for tests and benchmarks.

Each writer produces the exact structure described in the project's dataset format notes
(quirks included) from synthetic content, and returns what it wrote so a test can compare a
loader's output with it. Everything they write is SYNTHETIC: a ``SYNTHETIC.txt`` marker is
put in every folder they fill. Nothing here is imported by the library itself.
"""

from pathlib import Path

SYNTHETIC_NOTE = (
    "SYNTHETIC fixture written by vpbehavior.testing; it follows the published format but contains no real data.\n"
)


def mark_synthetic(folder: Path) -> None:
    """Put the SYNTHETIC.txt marker in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SYNTHETIC.txt").write_text(SYNTHETIC_NOTE)
