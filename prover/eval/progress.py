"""The driver's progress bar for `prove eval`: done/total, solved so far, elapsed time and ETA (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from prover.eval.results import ResultRow
from prover.eval.jobs import Job

__all__ = ["RichProgress"]


class RichProgress:
    """A `ProgressSink` drawing one bar on stderr; silent (no output) when `enabled` is False."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled
        self.solved = 0
        self.invalid = 0
        self.errors = 0
        self._progress: Progress | None = None
        self._task = None
        self._current = ""

    def begin(self, total: int, already_done: int) -> None:
        if not self.enabled:
            return
        self._progress = Progress(
            TextColumn("[bold]eval[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[tally]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[current]}", style="dim"),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task("eval", total=total, completed=already_done, tally=self._tally(), current="")

    def job_started(self, job: Job) -> None:
        self._current = job.problem.id
        self._update()

    def step(self, expansions: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, current=f"{self._current}: {expansions} steps")

    def job_finished(self, row: ResultRow) -> None:
        self.solved += row.status == "proved"
        self.invalid += row.status == "invalid"
        self.errors += row.status == "error"
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, tally=self._tally())

    def end(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _update(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, current=self._current)

    def _tally(self) -> str:
        text = f"solved {self.solved}"
        if self.invalid:
            text += f", invalid {self.invalid}"
        if self.errors:
            text += f", errors {self.errors}"
        return text
