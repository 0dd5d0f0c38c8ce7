"""python-binance's synchronous client, imported without the rest of the package.

`import binance.client` runs `binance/__init__.py` first, which imports the asynchronous client, aiohttp and
the websocket managers: half a second and about 11 MB that the synchronous `Client` never uses. Registering
the package as a bare namespace before the import skips that file; the modules the adapter uses (`client`,
`exceptions` and what they import themselves) load as usual, from the installed package.
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


_bare_package("binance")

from binance.client import Client  # noqa: E402
from binance.exceptions import BinanceAPIException, BinanceRequestException  # noqa: E402

__all__ = ["BinanceAPIException", "BinanceRequestException", "Client"]
