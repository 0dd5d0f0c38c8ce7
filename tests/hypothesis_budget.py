"""How many examples a property test runs: bounded in `make test`, many more in `make test-deep` and
`make fuzz`, a handful in `make mutation` (which runs the tests once per mutant), chosen by the environment
variable CSMC_HYPOTHESIS (unset, "deep", "fuzz" or "quick")."""

from __future__ import annotations

import os

DEEP_EXAMPLES = 10_000
FUZZ_EXAMPLES = 100_000
QUICK_EXAMPLES = 10


def examples(default: int) -> int:
    """`default` examples in `make test`; at least 10,000 (deep) or 100,000 (fuzz) otherwise."""
    profile = os.environ.get("CSMC_HYPOTHESIS", "")
    if profile == "deep":
        return max(default, DEEP_EXAMPLES)
    if profile == "fuzz":
        return max(default, FUZZ_EXAMPLES)
    if profile == "quick":
        return min(default, QUICK_EXAMPLES)
    if profile:
        raise ValueError(f"CSMC_HYPOTHESIS={profile!r}: use 'deep', 'fuzz' or 'quick', or leave it unset")
    return default
