"""Benchmark 4b: peak RSS of a whole `csmc demo --quiet` run.

The demo starts two sidecars and waits for each; Linux folds a reaped child's peak into its parent's
"children" peak, so both methods below report the largest single process of the demo's tree (the demo
driver or one of its sidecars), not a sum over the tree.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import BenchFailure
from bench.proc import clean_env

GNU_TIME = Path("/usr/bin/time")
DEMO_TIMEOUT = 60.0
_MAX_RSS = re.compile(r"Maximum resident set size \(kbytes\):\s*(\d+)")
_RUSAGE = re.compile(r"^bench-maxrss-kb: (\d+)$", re.MULTILINE)

# Runs in its own interpreter so that RUSAGE_CHILDREN covers the demo alone, not the sidecars this runner
# started for the other benchmarks.
_RUSAGE_WRAPPER = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", "sidecar.cli", "demo", "--quiet"], check=False)
print(f"bench-maxrss-kb: {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}", file=sys.stderr)
sys.exit(done.returncode)
"""


@dataclass(frozen=True)
class DemoMemory:
    method: str
    max_rss_kb: int
    elapsed_s: float
    summary: str

    def to_json(self) -> dict[str, object]:
        return {
            "method": self.method,
            "max_rss_kb": self.max_rss_kb,
            "elapsed_s": round(self.elapsed_s, 3),
            "demo_summary": self.summary,
        }


def gnu_time_available() -> bool:
    return GNU_TIME.is_file() and os.access(GNU_TIME, os.X_OK)


def _run_bounded(command: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """Run in a new process group, so a timeout ends the demo's sidecars too and not only the outer process."""
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.communicate(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
        raise BenchFailure(f"`csmc demo` did not finish within {timeout:.0f} s") from None
    return proc.returncode, out, err


def demo_memory(force_rusage: bool = False, timeout: float = DEMO_TIMEOUT) -> DemoMemory:
    demo = [sys.executable, "-m", "sidecar.cli", "demo", "--quiet"]
    if gnu_time_available() and not force_rusage:
        method = f"{GNU_TIME} -v (Maximum resident set size)"
        command, pattern = [str(GNU_TIME), "-v", *demo], _MAX_RSS
    else:
        method = "resource.getrusage(RUSAGE_CHILDREN).ru_maxrss in a wrapper process"
        command, pattern = [sys.executable, "-c", _RUSAGE_WRAPPER], _RUSAGE
    # The demo makes its own temporary CSMC_HOME for the sidecars; this one keeps anything else out of ~.
    with tempfile.TemporaryDirectory(prefix="csmc-bench-demo-") as tmp:
        started = time.perf_counter()
        code, out, err = _run_bounded(command, clean_env(Path(tmp)), timeout)
        elapsed = time.perf_counter() - started
    if code != 0:
        raise BenchFailure(f"`csmc demo --quiet` exited with {code}: {(out + err).strip()[-1500:]}")
    found = pattern.search(err)
    if found is None:
        raise BenchFailure(f"no peak RSS in the output of {method}: {err.strip()[-500:]}")
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    return DemoMemory(method, int(found.group(1)), elapsed, summary)
