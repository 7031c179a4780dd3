"""The one reader of JSONL files (results, trace rows, datasets, training examples), with one error policy.

Every line is one JSON value, parsed into a typed row by a pydantic model or a function. Blank
lines are skipped. A last line without its newline that does not parse is what an interrupted
writer leaves (a run killed mid-append): it is skipped with a warning, and `repair_tail` cuts it
off so the next append starts on a fresh line. Any other line that does not parse, or does not
make a valid row, is an error naming `file:line` (`JsonlError`, an `InputError`: one line, exit 2),
because silently dropping a finished row would redo or lose work.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from pydantic import BaseModel, ValidationError

from prover.errors import InputError

__all__ = ["JsonlError", "read_jsonl", "read_jsonl_numbered", "json_object", "repair_tail"]

log = logging.getLogger(__name__)

T = TypeVar("T")

Parser = Callable[[Any], T] | type[T]


class JsonlError(InputError):
    """A malformed line of a JSONL file; the message starts with `file:line:`."""


def json_object(value: Any) -> dict[str, Any]:
    """The default parse: the line must be a JSON object."""
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def read_jsonl(path: str | os.PathLike[str], parse: Parser[T] = json_object) -> Iterator[T]:  # type: ignore[assignment]
    """The rows of the JSONL file at `path`, each parsed by `parse` (see the module's error policy).

    parse: a pydantic model class (validated from the line's JSON) or a function of the decoded
    value that raises KeyError/TypeError/ValueError on a bad row. `InputError` when there is no file.
    """
    for _, row in read_jsonl_numbered(path, parse):
        yield row


def read_jsonl_numbered(path: str | os.PathLike[str], parse: Parser[T] = json_object) -> Iterator[tuple[int, T]]:  # type: ignore[assignment]
    """Like `read_jsonl`, with each row's 1-based line number (for messages and `source` fields)."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: no such file")
    with file.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            complete = raw.endswith(b"\n")
            if not raw.strip():
                continue
            try:
                yield number, _parse_line(raw, parse)
            except _Unreadable as bad:
                if not complete and bad.syntax:
                    log.warning("%s:%d: ignoring a truncated last line (%d bytes) left by an interrupted run", file, number, len(raw))
                    return
                raise JsonlError(f"{file}:{number}: {bad}") from None


class _Unreadable(Exception):
    """A line that is not JSON (`syntax`) or not a valid row."""

    def __init__(self, message: str, *, syntax: bool) -> None:
        super().__init__(message)
        self.syntax = syntax


def _parse_line(raw: bytes, parse: Parser[T]) -> T:
    try:
        text = raw.decode("utf-8")
        value = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as bad:
        raise _Unreadable(f"not JSON ({bad})", syntax=True) from None
    try:
        if isinstance(parse, type) and issubclass(parse, BaseModel):
            return parse.model_validate(value)  # type: ignore[return-value]
        return parse(value)  # type: ignore[call-arg]
    except ValidationError as bad:
        first = bad.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise _Unreadable(f"not a valid row ({where}: {first['msg']})" if where else f"not a valid row ({first['msg']})", syntax=False) from None
    except (KeyError, TypeError, ValueError, InputError) as bad:
        detail = f"missing field {bad}" if isinstance(bad, KeyError) else str(bad)
        raise _Unreadable(f"not a valid row ({detail})", syntax=False) from None


def repair_tail(path: str | os.PathLike[str]) -> None:
    """Make the file end on a line break before appending: a truncated last line (an interrupted
    write that does not parse) is cut off, a complete last row missing only its newline gets one."""
    file = Path(path)
    if not file.is_file():
        return
    data = file.read_bytes()
    complete_end = data.rfind(b"\n") + 1
    if complete_end == len(data):
        return
    tail = data[complete_end:]
    try:
        json.loads(tail.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        with open(file, "r+b") as stream:
            stream.truncate(complete_end)
            stream.flush()
            os.fsync(stream.fileno())
        return
    with open(file, "ab") as stream:
        stream.write(b"\n")
        stream.flush()
        os.fsync(stream.fileno())
