"""`prove FILE.v` never loses or mangles the user's work (real Coq, through the real CLI).

A model that fails mid-file, SIGTERM and a closed stdout keep every finished proof; `--write`
keeps the file's mode, symlink, line endings and byte-order mark; theorems are named by their
qualified names; every open proof is proved or reported. Every file written is compiled by coqc.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import assert_compiles, require_coq

pytestmark = pytest.mark.coq

THREE_EASY = """(* A license header that must stay on line 1. *)
Theorem first_easy : 1 + 1 = 2.
Proof.
Admitted.

Theorem second_easy : True.
Admitted.

Theorem third_easy : forall n : nat, n = n.
Admitted.
"""

FALSE_ONLY = "Lemma never : forall n : nat, n = n + 1.\nAdmitted.\n"


def prove(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prover", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(autouse=True)
def _coq() -> None:
    require_coq()


# ------------------------------------------------------------------ a model failing mid-file
class _FailingOnMarker(BaseHTTPRequestHandler):
    """An OpenAI-compatible completions server that answers `reflexivity`/`exact I`, except for
    prompts that mention `n * 0`: those get HTTP 500 (the model is down for that theorem)."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        if "n * 0" in json.dumps(payload):
            body, status = json.dumps({"error": {"message": "scripted outage"}}).encode(), 500
        else:
            texts = ["reflexivity", "exact I"]
            n = int(payload.get("n", 1))
            choices = [{"index": i, "text": texts[i % 2], "finish_reason": "stop", "logprobs": None} for i in range(n)]
            body, status = json.dumps({"id": "x", "object": "text_completion", "choices": choices}).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def failing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FailingOnMarker)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_model_failure_mid_file_is_an_error_and_the_run_goes_on(tmp_path: Path, failing_server: str) -> None:
    problem = tmp_path / "outage.v"
    problem.write_text(
        "Theorem before : 2 = 2.\nAdmitted.\n"
        "Theorem during : forall n : nat, n * 0 = 0.\nAdmitted.\n"
        "Theorem after : True.\nAdmitted.\n"
    )
    out = tmp_path / "outage_done.v"
    policy = f"openai:{failing_server}?model=m&template=bfs&endpoint=completions&retries=1&backoff=0.01&n=2"
    completed = prove(str(problem), "--policy", policy, "--budget-seconds", "20", "--json", "--out", str(out))
    assert completed.returncode == 1, completed.stderr
    report = json.loads(completed.stdout)
    statuses = {row["theorem"]: row["status"] for row in report["results"]}
    assert statuses == {"before": "proved", "during": "error", "after": "proved"}
    assert "scripted outage" in [r for r in report["results"] if r["theorem"] == "during"][0]["error"]
    assert report["written"] == str(out) and out.read_text().count("Qed.") == 2
    assert_compiles(out)
    assert "Traceback" not in completed.stderr and len(completed.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ SIGTERM and a closed stdout
def test_sigterm_keeps_the_finished_proofs_and_exits_143(tmp_path: Path) -> None:
    problem = tmp_path / "terminated.v"
    problem.write_text(THREE_EASY.replace("forall n : nat, n = n.", "forall n : nat, n * n = n * n * n + 1 \\/ n = 7 * n + 1000."))
    out = tmp_path / "partial.v"
    process = subprocess.Popen(
        [sys.executable, "-m", "prover", str(problem), "--budget-seconds", "120", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("proved    second_easy"):
            break
    process.send_signal(signal.SIGTERM)  # what `timeout` sends
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert stderr.strip().splitlines() == ["prove: terminated (SIGTERM); finished results kept"]
    assert out.read_text().count("Qed.") == 2
    assert_compiles(out)


def test_closed_stdout_keeps_the_out_file(tmp_path: Path) -> None:
    problem = tmp_path / "piped.v"
    problem.write_text(THREE_EASY)
    out = tmp_path / "piped_done.v"
    command = f"{sys.executable} -m prover {problem} --budget-seconds 30 --out {out} | head -1; echo rc=${{PIPESTATUS[0]}} >&2"
    completed = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=240)
    assert completed.stdout.startswith("proved    first_easy")
    assert "rc=141" in completed.stderr and "stdout was closed" in completed.stderr
    assert "Traceback" not in completed.stderr and "BrokenPipe" not in completed.stderr
    assert out.read_text().count("Qed.") >= 2  # the theorem whose line met the closed pipe was kept too
    assert_compiles(out)


# ------------------------------------------------------------------ --write keeps the file as it was
def test_write_leaves_an_unproved_file_untouched(tmp_path: Path) -> None:
    problem = tmp_path / "never.v"
    problem.write_text(FALSE_ONLY)
    before = problem.stat()
    completed = prove(str(problem), "--budget-seconds", "3", "--write")
    assert completed.returncode == 1
    after = problem.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert "left unchanged" in completed.stdout


def test_write_keeps_mode_symlink_crlf_and_bom(tmp_path: Path) -> None:
    real = tmp_path / "real.v"
    original = "\ufeff(* title *)\r\nTheorem crlf : True.\r\nProof.\r\nAdmitted.\r\n\r\nLemma untouched : 1 = 1.\r\nProof. reflexivity. Qed.\r\n"
    real.write_bytes(original.encode("utf-8"))
    os.chmod(real, 0o640)
    link = tmp_path / "link.v"
    link.symlink_to(real)
    completed = prove(str(link), "--budget-seconds", "20", "--write")
    assert completed.returncode == 0, completed.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    data = real.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf(* title *)\r\n")
    assert data.count(b"\n") == data.count(b"\r\n") and b"Qed." in data and b"Admitted." not in data
    assert data.endswith(b"Lemma untouched : 1 = 1.\r\nProof. reflexivity. Qed.\r\n")
    assert b"Require" not in data, "a proof that needs no library gets no import"
    assert_compiles(real)


# ------------------------------------------------------------------ names, shapes, options
@pytest.mark.slow
def test_same_short_name_in_two_modules_keeps_each_proof(tmp_path: Path) -> None:
    problem = tmp_path / "modules.v"
    problem.write_text(
        "Module A.\nTheorem t : forall n : nat, n + 0 = n.\nProof.\nAdmitted.\nEnd A.\n"
        "Module B.\nTheorem t : True.\nProof.\nAdmitted.\nEnd B.\n"
    )
    out, trees = tmp_path / "modules_done.v", tmp_path / "trees.json"
    completed = prove(str(problem), "--budget-seconds", "20", "--json", "--out", str(out), "--save-tree", str(trees))
    assert completed.returncode == 0, completed.stderr
    assert [row["theorem"] for row in json.loads(completed.stdout)["results"]] == ["A.t", "B.t"]
    assert_compiles(out)
    saved = json.loads(trees.read_text())
    assert sorted(saved["trees"]) == ["A.t", "B.t"]
    shown = prove("tree", str(trees))
    assert shown.returncode == 0 and "[A.t]" in shown.stdout and "[B.t]" in shown.stdout
    one = prove("tree", str(trees), "--theorem", "B.t", "--dot", str(tmp_path / "b.dot"))
    assert one.returncode == 0 and "[A.t]" not in one.stdout and (tmp_path / "b.dot").exists()


@pytest.mark.slow
def test_every_open_proof_is_proved_or_reported(tmp_path: Path) -> None:
    problem = tmp_path / "shapes.v"
    problem.write_bytes(
        (
            "\ufeff(* shapes *)\n"
            "Goal forall n : nat, n + 0 = n.\nProof.\nAdmitted.\n"
            "Property prop_true : True.\nAdmitted.\n"
            "Lemma αβ_comm : forall a b : nat, a + b = b + a.\nProof.\n  (* maybe lia *)\nAdmitted.\n"
            "Definition answer : 2 = 2.\nProof.\nAdmitted.\n"
            "Program Definition twice (n : nat) : {m : nat | m = n + n * 1} := exist _ (n * 2) _.\n"
            "Next Obligation. Admitted.\n"
        ).encode("utf-8")
    )
    out = tmp_path / "shapes_done.v"
    completed = prove(str(problem), "--budget-seconds", "20", "--json", "--out", str(out))
    assert completed.returncode == 1, "an unsupported Admitted never ends in exit 0"
    rows = {row["theorem"]: row for row in json.loads(completed.stdout)["results"]}
    assert {name: row["status"] for name, row in rows.items()} == {
        "obligation@15": "unsupported",
        "goal@2": "proved",
        "prop_true": "proved",
        "αβ_comm": "proved",
        "answer": "proved",
    }
    assert "Program obligation" in rows["obligation@15"]["error"]
    text = out.read_text(encoding="utf-8-sig")
    assert text.startswith("(* shapes *)\nFrom Coq Require Import"), "the preamble goes after the header comment"
    assert "Goal forall n : nat, n + 0 = n.\nProof." in text and "(* maybe lia *)" in text
    assert "Defined." in text  # a definition stays transparent
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert_compiles(out)


@pytest.mark.slow
def test_proof_using_and_comments_stay(tmp_path: Path) -> None:
    problem = tmp_path / "section.v"
    problem.write_text(
        "Section S.\nVariable k : nat.\nHypothesis Hk : k = 0.\n"
        "Lemma uses_hk : k + 0 = 0.\nProof using Hk.\n  (* rewrite with Hk *)\nAdmitted.\nEnd S.\n"
    )
    completed = prove(str(problem), "--budget-seconds", "20", "--write")
    assert completed.returncode == 0, completed.stderr
    text = problem.read_text()
    assert "Proof using Hk.\n  (* rewrite with Hk *)\n" in text and "Admitted." not in text
    assert f"completed file written to {problem}" in completed.stdout
    assert_compiles(problem)


@pytest.mark.slow
def test_only_and_total_seconds(tmp_path: Path) -> None:
    problem = tmp_path / "select.v"
    problem.write_text(
        "Module A.\nTheorem easy_a : True.\nAdmitted.\nEnd A.\n"
        "Theorem hard_b : forall n : nat, n = n + 1.\nAdmitted.\n"
        "Theorem hard_c : forall n : nat, n = n + 2.\nAdmitted.\n"
    )
    picked = json.loads(prove(str(problem), "--only", "A.*", "--json", "--budget-seconds", "10").stdout)
    assert [(r["theorem"], r["status"]) for r in picked["results"]] == [("A.easy_a", "proved")]
    short = prove(str(problem), "--only", "easy_a", "--only", "hard_b", "--json", "--budget-seconds", "1")
    assert [r["theorem"] for r in json.loads(short.stdout)["results"]] == ["A.easy_a", "hard_b"]
    missing = prove(str(problem), "--only", "nothing*")
    assert missing.returncode == 2 and "--only nothing*: no open theorem" in missing.stderr
    # Less of --total-seconds than a theorem needs to start: every selected theorem is reported
    # skipped, with the reason (how far a search gets in a few seconds depends on the machine's load).
    capped = prove(str(problem), "--only", "hard_*", "--total-seconds", "0.5", "--budget-seconds", "60", "--json")
    assert capped.returncode == 1
    rows = json.loads(capped.stdout)["results"]
    assert [(r["theorem"], r["status"]) for r in rows] == [("hard_b", "skipped"), ("hard_c", "skipped")]
    assert all("--total-seconds" in r["error"] for r in rows)
    # With some time, the run still ends by --total-seconds, not by the 60 s budget of each theorem.
    started = time.monotonic()
    timed = prove(str(problem), "--only", "hard_*", "--total-seconds", "6", "--budget-seconds", "60", "--json")
    assert timed.returncode == 1 and time.monotonic() - started < 60
    assert {r["status"] for r in json.loads(timed.stdout)["results"]} <= {"unproved", "skipped"}


@pytest.mark.slow
def test_no_hammer_writes_no_hammer_import(tmp_path: Path) -> None:
    from prover.backends.coq import HAMMER_IMPORT, hammer_available

    problem = tmp_path / "defn.v"
    problem.write_text("Definition some_nat : nat.\nProof.\nAdmitted.\n")
    plain = prove(str(problem), "--budget-seconds", "10", "--json", "--no-hammer", "--out", str(tmp_path / "a.v"))
    rows = json.loads(plain.stdout)["results"]
    assert all(row["requires"] == [] for row in rows)
    assert "Hammer" not in (tmp_path / "a.v").read_text() and "sauto" not in (tmp_path / "a.v").read_text()
    if not hammer_available():
        return  # the half below needs CoqHammer installed
    hammered = prove(str(problem), "--budget-seconds", "10", "--out", str(tmp_path / "b.v"))
    if "sauto" in (tmp_path / "b.v").read_text():
        assert f"[needs {HAMMER_IMPORT}]" in hammered.stdout and "note: the proofs of some_nat need" in hammered.stdout
        assert HAMMER_IMPORT in (tmp_path / "b.v").read_text()
        assert_compiles(tmp_path / "b.v")


def test_header_error_points_at_the_failing_sentence(tmp_path: Path) -> None:
    problem = tmp_path / "hdr.v"
    problem.write_text("(* c *)\n  Require Import NoSuchLibraryHere.\nTheorem t : True.\nAdmitted.\n")
    completed = prove(str(problem), "--budget-seconds", "3")
    assert completed.returncode == 2
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith(f'prove: File "{problem}", line 2, characters 2-35: t: invalid statement: ')
    assert "NoSuchLibraryHere" in line and line.count(" t:") == 1


def test_an_unwritable_out_is_one_line_and_the_verdicts_still_print(tmp_path: Path) -> None:
    problem = tmp_path / "w.v"
    problem.write_text("Theorem w : True.\nAdmitted.\n")
    completed = prove(str(problem), "--budget-seconds", "10", "--out", str(tmp_path))  # a directory
    assert completed.returncode == 2
    assert "proved    w" in completed.stdout and "1/1 theorems proved" in completed.stdout
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith(f"prove: cannot write the completed file {tmp_path}:") and "Traceback" not in completed.stderr


@pytest.mark.slow
def test_proof_using_is_honoured_by_the_search_and_the_check(tmp_path: Path) -> None:
    """Under `Proof using k.` a proof that needs the unlisted `Hk` is not "proved": the kernel check
    runs under the file's opening, as Qed in the written file would."""
    problem = tmp_path / "using.v"
    problem.write_text(
        "Section S.\nVariable k : nat.\nHypothesis Hk : k = 0.\n"
        "Lemma needs_hk : k + 0 = 0.\nProof using k.\nAdmitted.\n"
        "Lemma needs_k : True.\nProof using k.\nAdmitted.\nEnd S.\n"
    )
    out = tmp_path / "using_done.v"
    completed = prove(str(problem), "--budget-seconds", "8", "--json", "--out", str(out))
    rows = {row["theorem"]: row for row in json.loads(completed.stdout)["results"]}
    assert rows["needs_hk"]["status"] == "unproved"
    assert "used but not declared" in (rows["needs_hk"]["error"] or ""), "the check ran under `Proof using k.`"
    # Whatever else is proved, the written file keeps the user's opening and compiles.
    assert out.read_text().count("Proof using k.") == 2
    assert_compiles(out)
