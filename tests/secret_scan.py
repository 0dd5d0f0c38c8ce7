"""Scan files for the test secrets: `python -m tests.secret_scan FILE...` (run by `make test` on the suite's output)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.secrets import find_secrets

# Files that hold secrets on purpose: the test profiles and token files themselves.
EXEMPT_SUFFIXES = (".toml", ".token")


def scan_paths(paths: list[Path]) -> list[str]:
    problems = []
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            if path.suffix in EXEMPT_SUFFIXES:
                continue
            try:
                text = path.read_bytes().decode("utf-8", errors="replace")
            except OSError:
                continue
            problems += [f"{path}: contains the test secret '{name}'" for name in find_secrets(text)]
    return problems


def main(argv: list[str]) -> int:
    problems = scan_paths([Path(a) for a in argv])
    for line in problems:
        print(line)
    if problems:
        print(f"secret scan: {len(problems)} leak(s)")
        return 1
    print(f"secret scan: no test secret in {', '.join(argv)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
