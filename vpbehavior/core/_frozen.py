"""A read-only, picklable mapping for the frozen data model's dict fields (metadata, targets)."""

from __future__ import annotations


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
