"""Packages that share their name with an API function (`vpbehavior.pretrain`, `vpbehavior.search`).

Importing ``vpbehavior.pretrain`` makes Python set the attribute ``vpbehavior.pretrain`` to the
package, hiding the function of the same name that ``vpbehavior`` re-exports; `call_through`
makes such a package callable, so ``vpbehavior.pretrain(...)`` runs the function either way.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable


def call_through(module_name: str, function: Callable) -> None:
    """Calling module ``module_name`` calls ``function`` (its namesake)."""

    class CallableModule(types.ModuleType):
        __doc__ = f"Module {module_name}; calling it runs {function.__qualname__}."

        def __call__(self, *args, **kwargs):
            return function(*args, **kwargs)

    sys.modules[module_name].__class__ = CallableModule
