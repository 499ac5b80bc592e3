"""The project's own writers of dataset files, for tests and benchmarks.

Each writer produces the exact on-disk structure described in
``shared/docs/dataset_formats.md`` (quirks included) from synthetic content, and
returns what it wrote so tests can compare a loader's output against it. Everything
they write is SYNTHETIC: a ``SYNTHETIC.txt`` marker is put in every folder they fill.
"""

from pathlib import Path

SYNTHETIC_NOTE = (
    "SYNTHETIC fixture written by vpbehavior's tests/fixtures_writers; "
    "it follows the published format but contains no real data.\n"
)


def mark_synthetic(folder: Path) -> None:
    """Put the SYNTHETIC.txt marker in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SYNTHETIC.txt").write_text(SYNTHETIC_NOTE)
