"""How many examples a property test runs: bounded in `make test`, many more in `make test-deep` and
`make fuzz`, chosen by the environment variable CSMC_HYPOTHESIS (unset, "deep" or "fuzz")."""

from __future__ import annotations

import os

DEEP_EXAMPLES = 10_000
FUZZ_EXAMPLES = 100_000


def examples(default: int) -> int:
    """`default` examples in `make test`; at least 10,000 (deep) or 100,000 (fuzz) otherwise."""
    profile = os.environ.get("CSMC_HYPOTHESIS", "")
    if profile == "deep":
        return max(default, DEEP_EXAMPLES)
    if profile == "fuzz":
        return max(default, FUZZ_EXAMPLES)
    if profile:
        raise ValueError(f"CSMC_HYPOTHESIS={profile!r}: use 'deep' or 'fuzz', or leave it unset")
    return default
