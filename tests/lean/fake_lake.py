#!/usr/bin/env python3
"""A stand-in for `lake`, enough for lean-interact, `prove setup` and `prove doctor` in tests.

  lake --version         prints a version line naming Lean v4.24.0;
  lake env PROG ARGS...  runs PROG with ARGS in this process's place (what lean-interact starts:
                         `lake env <repl_dir>/.lake/build/bin/repl`, in the project directory);
  lake update / lake exe cache get / lake build
                         append the command and the working directory to $FAKE_LAKE_LOG, then
                         leave behind what the real command would (the REPL package checked out,
                         Mathlib's compiled root file, the REPL binary), so a set-up run can be
                         checked end to end; a command whose words contain $FAKE_LAKE_FAIL fails
                         with exit status 1 and an error line on stderr, as lake does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _log(words: list[str]) -> None:
    log_path = os.environ.get("FAKE_LAKE_LOG")
    if log_path:
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps({"args": words, "cwd": os.getcwd()}) + "\n")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--version"]:
        print("Lake version 5.0.0-src (Lean version 4.24.0)")
        return 0
    if argv[:1] == ["env"] and len(argv) >= 2:
        os.execv(argv[1], argv[1:])
    _log(argv)
    failing = os.environ.get("FAKE_LAKE_FAIL")
    if failing and failing in " ".join(argv):
        sys.stderr.write(f"error: fake lake was told to fail on `lake {' '.join(argv)}`\n")
        return 1
    here = Path.cwd()
    if argv == ["update"]:
        repl = here / ".lake" / "packages" / "REPL"
        repl.mkdir(parents=True, exist_ok=True)
        (repl / "lean-toolchain").write_text((here / "lean-toolchain").read_text())
        (repl / "lakefile.toml").write_text('name = "REPL"\n')
        return 0
    if argv == ["exe", "cache", "get"]:
        lib = here / ".lake" / "packages" / "mathlib" / ".lake" / "build" / "lib" / "lean"
        lib.mkdir(parents=True, exist_ok=True)
        (lib / "Mathlib.olean").write_bytes(b"fake olean")
        return 0
    if argv == ["build"]:
        if here.name == "REPL":
            binary = here / ".lake" / "build" / "bin" / "repl"
            binary.parent.mkdir(parents=True, exist_ok=True)
            binary.write_text("#!/bin/sh\necho 'fake repl built by fake lake' >&2\nexit 1\n")
            binary.chmod(0o755)
        return 0
    sys.stderr.write(f"error: unknown command `lake {' '.join(argv)}` for the fake lake\n")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
