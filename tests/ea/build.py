"""Build an MQL5 Expert Advisor into the scenario runner: translate the MQL5 tree, compile it with g++ against
the runtime shim, link it with the runner.

    python tests/ea/build.py [--mql5-root DIR] [--out DIR] [--syntax-only] [--expert Experts/CSMultiConnector.mq5]

The translated tree is rewritten on every build. The shim and runner objects do not depend on the EA and are
cached by the hash of their sources, flags and compiler. Compiler messages name the original MQL5 files and
lines. Exit status 0 on success, 1 on a translation or compile error, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# Run as a script, so the repository root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.ea.translate import REPO_ROOT, shown, translate_tree

HERE = Path(__file__).resolve().parent
SHIM = HERE / "shim"
HARNESS = HERE / "harness"
SHIM_HEADER = SHIM / "mql5.h"
RUNTIME_SOURCES = [
    SHIM / "runtime_text.cpp",
    SHIM / "runtime_terminal.cpp",
    SHIM / "runtime_io.cpp",
    HARNESS / "json.cpp",
    HARNESS / "account.cpp",
    HARNESS / "runner.cpp",
]
COMPILER = os.environ.get("CXX", "g++")
# -fwrapv: MQL5 integers wrap on overflow. -fnon-call-exceptions: an integer division by zero becomes the
# critical error MQL5 reports instead of a crash.
CODE_FLAGS = ["-std=c++20", "-O1", "-fwrapv", "-fnon-call-exceptions", "-pipe"]
# Warnings that flag real mistakes stay on; those that fire on ordinary MQL5 (unused locals, signed/unsigned
# comparisons, switches over part of an enum) are off. Falling off the end of a value-returning function is
# an error in MQL5, so it is one here.
WARNING_FLAGS = [
    "-Wall",
    "-Werror=return-type",
    "-Werror=uninitialized",
    "-Wno-unused-variable",
    "-Wno-unused-but-set-variable",
    "-Wno-unused-function",
    "-Wno-unused-value",
    "-Wno-unused-local-typedefs",
    "-Wno-sign-compare",
    "-Wno-parentheses",
    "-Wno-switch",
    "-Wno-comment",
    "-Wno-unknown-pragmas",
    "-Wno-misleading-indentation",
    "-Wno-char-subscripts",
    "-Wno-class-memaccess",
]


@dataclass
class CompileResult:
    ok: bool
    output: str
    seconds: float


def compiler_identity() -> str:
    result = subprocess.run([COMPILER, "--version"], capture_output=True, text=True, check=False)
    return result.stdout


def runtime_fingerprint(source: Path, identity: str) -> str:
    digest = hashlib.sha256()
    digest.update(identity.encode())
    digest.update(" ".join(CODE_FLAGS + WARNING_FLAGS).encode())
    for dependency in [source, *sorted(SHIM.glob("*.h")), *sorted(HARNESS.glob("*.h"))]:
        digest.update(dependency.name.encode())
        digest.update(dependency.read_bytes())
    return digest.hexdigest()[:20]


def run_compiler(command: list[str]) -> CompileResult:
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    return CompileResult(result.returncode == 0, result.stdout + result.stderr, time.monotonic() - started)


def cached_object(source: Path, cache: Path, identity: str) -> tuple[Path, list[str] | None]:
    """The object file for a runtime source, and the command to build it when it is not cached yet."""
    target = cache / f"{source.stem}-{runtime_fingerprint(source, identity)}.o"
    if target.exists():
        return target, None
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    command = [COMPILER, *CODE_FLAGS, *WARNING_FLAGS, "-c", str(source), "-o", str(temporary)]
    return target, command


def map_paths(output: str, translated_root: Path, mql5_root: Path) -> str:
    """Compiler output with any translated path replaced by the original MQL5 path."""
    prefix = str(translated_root.resolve()) + os.sep
    original = shown(mql5_root) + os.sep
    return output.replace(prefix, original)


def build(mql5_root: Path, out: Path, expert: Path, syntax_only: bool, cache: Path) -> int:
    started = time.monotonic()
    source_root = out / "src"
    translation = translate_tree(mql5_root, source_root, expert)
    for error in translation.errors:
        print(error, file=sys.stderr)
    if translation.errors:
        print(f"build: {len(translation.errors)} translation error(s)", file=sys.stderr)
        return 1
    expert_source = source_root / expert
    include_flags = ["-I", str(source_root / "Include")]
    ea_flags = [*CODE_FLAGS, *WARNING_FLAGS, "-include", str(SHIM_HEADER), *include_flags, "-x", "c++"]
    if syntax_only:
        result = run_compiler([COMPILER, *ea_flags, "-fsyntax-only", str(expert_source)])
        sys.stderr.write(map_paths(result.output, source_root, mql5_root))
        if not result.ok:
            print("build: syntax check failed", file=sys.stderr)
            return 1
        print(f"syntax OK: {shown(mql5_root / expert)} ({result.seconds:.1f} s)")
        return 0

    objects = out / "obj"
    objects.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    identity = compiler_identity()
    expert_object = objects / "expert.o"
    runtime_objects: list[Path] = []
    pending: list[tuple[Path, list[str]]] = []
    for runtime_source in RUNTIME_SOURCES:
        target, command = cached_object(runtime_source, cache, identity)
        runtime_objects.append(target)
        if command is not None:
            pending.append((target, command))

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        expert_job = pool.submit(
            run_compiler, [COMPILER, *ea_flags, "-c", str(expert_source), "-o", str(expert_object)]
        )
        runtime_jobs: list[tuple[Path, list[str], Future[CompileResult]]] = [
            (target, command, pool.submit(run_compiler, command)) for target, command in pending
        ]
        expert_result = expert_job.result()
        failed = False
        for target, command, job in runtime_jobs:
            result = job.result()
            temporary = Path(command[-1])
            if result.ok:
                os.replace(temporary, target)
            else:
                failed = True
                sys.stderr.write(result.output)
    sys.stderr.write(map_paths(expert_result.output, source_root, mql5_root))
    if not expert_result.ok or failed:
        print("build: compilation failed", file=sys.stderr)
        return 1

    binary = out / "ea-harness"
    link = run_compiler([COMPILER, "-o", str(binary), str(expert_object), *map(str, runtime_objects)])
    sys.stderr.write(map_paths(link.output, source_root, mql5_root))
    if not link.ok:
        print("build: linking failed", file=sys.stderr)
        return 1
    total = time.monotonic() - started
    print(
        f"built {shown(binary)} from {shown(mql5_root / expert)} in {total:.1f} s "
        f"(expert compile {expert_result.seconds:.1f} s, {len(pending)} runtime object(s) compiled)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build an MQL5 Expert Advisor into the EA test harness.")
    parser.add_argument("--mql5-root", type=Path, default=REPO_ROOT / "mql5", help="the MQL5 tree (default: mql5/)")
    parser.add_argument(
        "--expert",
        type=Path,
        default=Path("Experts/CSMultiConnector.mq5"),
        help="the expert's .mq5, relative to the MQL5 tree",
    )
    parser.add_argument("--out", type=Path, help="build directory (default: build/ea/<expert name>)")
    parser.add_argument("--syntax-only", action="store_true", help="translate and check syntax; build nothing")
    parser.add_argument(
        "--cache",
        type=Path,
        default=REPO_ROOT / "build" / "ea" / "cache",
        help="where compiled runtime objects are kept between builds",
    )
    args = parser.parse_args(argv)
    if not args.mql5_root.is_dir():
        print(f"build: {args.mql5_root} is not a directory", file=sys.stderr)
        return 2
    out = args.out or REPO_ROOT / "build" / "ea" / args.expert.stem
    return build(args.mql5_root, out, args.expert, args.syntax_only, args.cache)


if __name__ == "__main__":
    sys.exit(main())
