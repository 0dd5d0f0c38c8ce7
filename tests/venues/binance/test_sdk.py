"""The Binance connector loads python-binance's synchronous client only: no aiohttp, no asynchronous client,
no dateparser, and a clear error should anything ever reach for what was left out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_connector_imports_the_synchronous_client_and_nothing_it_never_uses() -> None:
    code = (
        "import sys; import sidecar.venues.binance\n"
        "print(sorted(m for m in ('aiohttp', 'binance.async_client', 'binance.ws.threaded_stream')"
        " if m in sys.modules))\n"
        "import dateparser\n"
        "try:\n    dateparser.parse('yesterday')\nexcept ImportError as e:\n    print(e)\n"
        # Tools that walk sys.modules (pytest's plugins among them) probe dunders with a default.
        "print([getattr(m, '__file__', None) for m in list(sys.modules.values()) if m.__name__ == 'dateparser'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True
    )
    loaded, refusal, probed = done.stdout.strip().splitlines()
    assert loaded == "[]"
    assert refusal.startswith("dateparser.parse is not loaded in the sidecar")
    assert probed == "[None]"
