"""Read-only building blocks of the frozen data model: private array copies and a picklable mapping."""

from __future__ import annotations

import numpy as np


def readonly_array(array, dtype) -> np.ndarray:
    """A private, read-only copy of ``array`` (so no caller can change it after validation)."""
    array = np.array(array, dtype=dtype)
    array.flags.writeable = False
    return array


class FrozenDict(dict):
    """A dict that refuses changes; pickles and copies as a FrozenDict (unlike MappingProxyType)."""

    __slots__ = ()

    def _refuse(self, *args, **kwargs):
        raise TypeError("this mapping is read-only; build a new one (e.g. Recording.replace(metadata=...))")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __reduce__(self):
        return (type(self), (dict(self),))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self
