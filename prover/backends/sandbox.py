"""One private folder per proof-assistant environment: working directory and TMPDIR of every process it starts.

Coq's tactics write files where they run: micromega caches (`.lia.cache`) into the working
directory, psatz's `csdp` its `param.csdp` and `sos*.dat-s` into TMPDIR. A `ProcessSandbox`
gives each environment `ROOT/work` (working directory) and `ROOT/tmp` (TMPDIR, TMP, TEMP) under
one fresh folder that `cleanup` removes, so a run leaves nothing in the user's folder or in the
shared temp folder. `run_in_group` runs a command in its own process group and kills the whole
group when it overruns, so helpers a tool started (csdp, ATP provers) never outlive it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

__all__ = ["ProcessSandbox", "run_in_group", "kill_process_group_members"]


class ProcessSandbox:
    """A private folder with `work/` and `tmp/`; created on first use, again after `cleanup`."""

    def __init__(self, prefix: str = "neuroprove-coq-") -> None:
        self._prefix = prefix
        self._root: Path | None = None

    def root(self) -> Path:
        """The sandbox folder (made now if needed)."""
        if self._root is None or not self._root.is_dir():
            self._root = Path(tempfile.mkdtemp(prefix=self._prefix))
        for sub in ("work", "tmp"):
            (self._root / sub).mkdir(exist_ok=True)
        return self._root

    def workdir(self) -> Path:
        """The working directory of every process of this environment."""
        return self.root() / "work"

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (default: this process's environment) with TMPDIR, TMP and TEMP set to the sandbox's tmp/."""
        env = dict(os.environ if base is None else base)
        tmp = str(self.root() / "tmp")
        env.update(TMPDIR=tmp, TMP=tmp, TEMP=tmp)
        return env

    def cleanup(self) -> None:
        """Remove the folder and everything in it."""
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None


def run_in_group(
    argv: Sequence[str], *, cwd: str | Path, env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(argv, capture_output=True, text=True)` in a new process group; on timeout the
    whole group is killed (and reaped) before `subprocess.TimeoutExpired` is raised."""
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        process.communicate()
        raise
    finally:
        _kill_group(process.pid)  # helpers left behind by a finished tool
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_process_group_members(leader: int) -> int:
    """SIGKILL every process in `leader`'s process group except the leader (the helpers CoqHammer
    forks, premise selection and provers, which outlive an interrupted `hammer`); how many."""
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == leader:
            continue
        try:
            stat = (entry / "stat").read_text()
            group = int(stat.rsplit(")", 1)[1].split()[2])
        except (OSError, ValueError, IndexError):
            continue
        if group == leader:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    return killed
