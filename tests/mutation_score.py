"""Scores of a mutmut run: `python -m tests.mutation_score mutants` (run by `make mutation`).

For each mutated file: the mutants the tests killed, those that survived, those no fast test reaches, and
the score over the reached ones (a timeout counts as killed: the mutant made a test hang). Every survivor is
listed by name, so it can be killed by a new test or written down as equivalent.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

# mutmut's exit codes for a mutant's test run: 0 = the tests passed (survived), 1 = failed (killed),
# 33 = no test covers the mutated function; others, a timeout or a crash, also end the mutant.
SURVIVED, KILLED, NO_TESTS = 0, 1, 33


def outcome(code: int | None) -> str:
    if code is None:
        return "not run"
    return {SURVIVED: "survived", KILLED: "killed", NO_TESTS: "no tests"}.get(code, "timeout")


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "mutants")
    metas = sorted(root.rglob("*.meta"))
    if not metas:
        print(f"no mutmut results under {root}: run `make mutation` first")
        return 2
    total: Counter[str] = Counter()
    survivors: list[str] = []
    for meta in metas:
        codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {})
        counts = Counter(outcome(code) for code in codes.values())
        total += counts
        survivors += sorted(k for k, code in codes.items() if outcome(code) == "survived")
        print(f"{meta.relative_to(root).with_suffix('')}: {_line(counts)}")
    print(f"all: {_line(total)}")
    print(f"\nsurvivors ({len(survivors)}):")
    print("\n".join(f"  {name}" for name in survivors))
    return 0


def _line(counts: Counter[str]) -> str:
    killed = counts["killed"] + counts["timeout"]
    reached = killed + counts["survived"]
    score = f"{killed / reached:.1%}" if reached else "-"
    return (
        f"{score} of the {reached} mutants the tests reach killed ({counts['killed']} killed, {counts['timeout']} "
        f"timed out, {counts['survived']} survived); {counts['no tests']} reached by no fast test"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
