"""Matching names (behaviors, subjects, keypoints) the way every loader must.

Datasets spell behavior names their own way ("wing threat", "Head Up", "attack "); the data
model keeps each dataset's spelling, and files are matched against it by one rule: case and
runs of whitespace (including leading and trailing) do not matter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: The subject of frame-level data (labels or features for the whole frame, not one animal).
FRAME_LEVEL = "all"


def name_key(name: object) -> str:
    """The key two names are compared by: case-folded, whitespace runs collapsed and stripped."""
    return " ".join(str(name).split()).casefold()


def same_name(a: object, b: object) -> bool:
    return name_key(a) == name_key(b)


def name_lookup(names: Iterable[str]) -> dict[str, str]:
    """``{name_key(n): n}`` for a vocabulary; raises ValueError when two names share a key."""
    lookup: dict[str, str] = {}
    for name in names:
        key = name_key(name)
        if key in lookup and lookup[key] != name:
            raise ValueError(f"names {lookup[key]!r} and {name!r} differ only in case or spacing")
        lookup[key] = name
    return lookup


def match_name(name: object, vocabulary: Iterable[str] | Mapping[str, str]) -> str | None:
    """The vocabulary's own spelling of ``name``, or None when it has no such name."""
    lookup = vocabulary if isinstance(vocabulary, Mapping) else name_lookup(vocabulary)
    return lookup.get(name_key(name))
