"""python-binance's synchronous client, imported without the rest of the package.

`import binance.client` runs `binance/__init__.py` first, which imports the asynchronous client, aiohttp and
the websocket managers: half a second and about 11 MB that the synchronous `Client` never uses. Registering
the package as a bare namespace before the import skips that file; the modules the adapter uses (`client`,
`exceptions` and what they import themselves) load as usual, from the installed package.

`binance.helpers` also imports dateparser (about 3 MB with its language tables) for one function that reads
dates written in words, which only the historical-klines calls use and this copier never calls. Unless
something has imported the real dateparser already, it is stood in for by a module that says so if it is
ever used, instead of misbehaving.
"""

from __future__ import annotations

import importlib.util
import sys
import types


def _bare_package(name: str) -> None:
    if name in sys.modules:
        return  # already imported whole (a test, a tool): nothing to save
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        return  # not installed: the import below says so
    package = types.ModuleType(name)
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__file__ = spec.origin
    sys.modules[name] = package


def _never_used(name: str, why: str) -> None:
    if name in sys.modules:
        return

    def refuse(attribute: str) -> object:
        if attribute.startswith("_"):
            # Tools that walk sys.modules (pytest plugins, debuggers, pickle) probe dunders such as __file__
            # with getattr and a default; they must see an ordinary missing attribute, not a failed import.
            raise AttributeError(attribute)
        raise ImportError(f"{name}.{attribute} is not loaded in the sidecar: {why}")

    stand_in = types.ModuleType(name)
    stand_in.__dict__["__getattr__"] = refuse
    sys.modules[name] = stand_in


_bare_package("binance")
_never_used("dateparser", "python-binance needs it only for dates written in words, which the copier never sends")

from binance.client import Client  # noqa: E402
from binance.exceptions import BinanceAPIException, BinanceRequestException  # noqa: E402

__all__ = ["BinanceAPIException", "BinanceRequestException", "Client"]
