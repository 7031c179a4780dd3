"""A k-nearest-neighbour tactic policy over traced proof states, as Tactician does for Coq.

Blaauwbroek, Urban and Geuvers, "The Tactician" (CICM 2020): a state is a bag of cheap features
(the identifiers and symbols of the first goal's conclusion and hypotheses, and neighbouring-token
pairs of the conclusion); the tactics of the most similar traced states are proposed, best first.
Here the features are TF-IDF weighted and compared by cosine similarity over a sparse matrix
(numpy), so "training" is indexing (a second for tens of thousands of steps) and a proof found
during search can be added at once (`add`), which is what makes online learning cheap.

A neighbour's tactic that names a hypothesis the current goal does not have (`apply H0.` where
there is no `H0`) is adapted when the current goal has a hypothesis of the same type under another
name (`apply Hlt.`), and skipped otherwise: it would fail anyway.

Tactician also learns from the proofs earlier in the file being worked on; `use_local(rows)`
gives the policy such a small per-theorem set, searched next to the main index and replaced at
the next call (so held-out files stay unseen by the main index).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from search.types import Candidate, State

from prover.data.rows import NO_GOALS, TraceRow, read_rows, strip_structure
from prover.errors import InputError

__all__ = ["KNNPolicy", "build_knn_policy", "state_features", "hypotheses", "hypothesis_names", "KNN_FILE"]

KNN_FILE = "knn.jsonl"
_TOKEN = re.compile(r"[A-Za-z_][\w'.]*|\d+|[^\s\w()]{1,3}")
_IDENT = re.compile(r"[A-Za-z_][\w']*")
_RULE = "============================"
_MAX_HYPS = 40  # a huge context adds noise, not signal


def _split_goal(goal: str) -> tuple[list[str], str]:
    if _RULE in goal:
        hyps, conclusion = goal.split(_RULE, 1)
        return [h for h in hyps.splitlines() if h.strip()], conclusion
    # Lean's `⊢` separates hypotheses from the target.
    if "⊢" in goal:
        hyps, conclusion = goal.rsplit("⊢", 1)
        return [h for h in hyps.splitlines() if h.strip()], conclusion
    return [], goal


def hypotheses(state_text: str) -> dict[str, str]:
    """The first goal's context as name -> type (`x, y : nat` gives x and y the type `nat`)."""
    first = state_text.split("\n\n", 1)[0]
    hyps, _ = _split_goal(first)
    context: dict[str, str] = {}
    for hyp in hyps:
        if ":" not in hyp:
            continue
        head, kind = hyp.split(":", 1)
        # `x := v : T` (a let-bound hypothesis) keeps its type after the last ` : `.
        head = head.split(":=")[0]
        for name in head.split(","):
            name = name.strip()
            if _IDENT.fullmatch(name):
                context[name] = " ".join(kind.split())
    return context


def hypothesis_names(state_text: str) -> set[str]:
    """Names bound in the first goal's context (`x, y : nat` binds x and y)."""
    return set(hypotheses(state_text))


def state_features(state_text: str) -> Counter:
    """The bag of features of a state: conclusion tokens (`c:`) and token pairs (`p:`), hypothesis
    type tokens (`h:`) of the first goal, and the number of goals (`g:`)."""
    features: Counter = Counter()
    if state_text == NO_GOALS:
        features["g:0"] = 1
        return features
    goals = state_text.split("\n\n")
    features[f"g:{min(len(goals), 5)}"] += 1
    hyps, conclusion = _split_goal(goals[0])
    tokens = _TOKEN.findall(conclusion)
    for token in tokens:
        features["c:" + token] += 1
    for left, right in zip(tokens, tokens[1:]):
        features[f"p:{left} {right}"] += 1
    for hyp in hyps[-_MAX_HYPS:]:
        body = hyp.split(":", 1)[1] if ":" in hyp else hyp
        for token in _TOKEN.findall(body):
            features["h:" + token] += 1
    return features


@dataclass(frozen=True)
class _Entry:
    state: str
    tactic: str


class KNNPolicy:
    """Proposes the tactics of the traced states most similar to the asked state.

    k: neighbours consulted per state.
    temperature: log-probabilities are a softmax over similarity / temperature (lower: sharper).
    source: the `Candidate.source` label.
    """

    def __init__(
        self,
        rows: Iterable[TraceRow] = (),
        *,
        k: int = 64,
        temperature: float = 0.1,
        source: str = "knn",
    ) -> None:
        self.k = k
        self.temperature = temperature
        self.source = source
        self._entries: list[_Entry] = []
        self._features: list[Counter] = []
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._index: tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._local: list[tuple[_Entry, Counter]] = []
        self.add(rows)

    # ------------------------------------------------------------ building
    @classmethod
    def load(cls, path: str | Path, **options: object) -> "KNNPolicy":
        """A policy over the rows at `path`: a trace folder, a rows JSONL file, or a saved `knn.jsonl`."""
        target = Path(path)
        if target.is_dir() and (target / KNN_FILE).exists():
            target = target / KNN_FILE
        if not target.exists():
            raise InputError(f"{path}: no trace rows or saved kNN policy there")
        return cls(read_rows(target), **options)  # type: ignore[arg-type]

    def save(self, path: str | Path) -> Path:
        """Write the indexed (state, tactic) pairs as rows; `load` reads them back."""
        target = Path(path)
        if target.suffix != ".jsonl":
            target.mkdir(parents=True, exist_ok=True)
            target = target / KNN_FILE
        with self._lock:
            entries = list(self._entries)
        with target.open("w") as handle:
            for number, entry in enumerate(entries):
                row = TraceRow("knn", f"entry{number}", 0, entry.state, entry.tactic, "")
                handle.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
        return target

    def add(self, rows: Iterable[TraceRow]) -> int:
        """Index more (state, tactic) pairs (online learning); leading bullets and braces are dropped, bare ones skipped.
        Returns how many new pairs were added."""
        added = 0
        with self._lock:
            for row in rows:
                tactic = strip_structure(row.tactic)
                if not tactic or row.state_before == NO_GOALS:
                    continue
                key = (row.state_before, tactic)
                if key in self._seen:
                    continue
                self._seen.add(key)
                self._entries.append(_Entry(row.state_before, tactic))
                self._features.append(state_features(row.state_before))
                added += 1
            if added:
                self._index = None
        return added

    def add_proof(self, states: Sequence[State], tactics: Sequence[str], *, theorem: str = "") -> int:
        """Index a proof found by search: `states[i]` is the state `tactics[i]` was applied to."""
        return self.add(
            TraceRow("search", theorem, step, state.key, tactic, "")
            for step, (state, tactic) in enumerate(zip(states, tactics))
        )

    def use_local(self, rows: Iterable[TraceRow]) -> int:
        """Search these rows too (the proofs before the current theorem in its own file) until
        the next call; `use_local(())` clears them. Returns how many pairs are in use."""
        local: list[tuple[_Entry, Counter]] = []
        seen: set[tuple[str, str]] = set()
        for row in rows:
            tactic = strip_structure(row.tactic)
            key = (row.state_before, tactic)
            if not tactic or row.state_before == NO_GOALS or key in seen:
                continue
            seen.add(key)
            local.append((_Entry(row.state_before, tactic), state_features(row.state_before)))
        with self._lock:
            self._local = local
        return len(local)

    def __len__(self) -> int:
        return len(self._entries)

    def __getstate__(self) -> dict[str, object]:
        # Sent to Ray workers: the lock cannot travel and the index is rebuilt on first use.
        state = self.__dict__.copy()
        del state["_lock"]
        state["_index"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _build(self) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        vocabulary: dict[str, int] = {}
        document_frequency: Counter = Counter()
        for features in self._features:
            document_frequency.update(features.keys())
        for feature in document_frequency:
            vocabulary[feature] = len(vocabulary)
        count = max(1, len(self._features))
        idf = np.zeros(len(vocabulary), dtype=np.float32)
        for feature, df in document_frequency.items():
            idf[vocabulary[feature]] = math.log((1 + count) / (1 + df)) + 1.0
        indptr = np.zeros(len(self._features) + 1, dtype=np.int64)
        indices: list[int] = []
        data: list[float] = []
        for row, features in enumerate(self._features):
            columns = [vocabulary[f] for f in features]
            weights = np.array([(1 + math.log(c)) for c in features.values()], dtype=np.float32) * idf[columns]
            norm = float(np.linalg.norm(weights)) or 1.0
            indices.extend(columns)
            data.extend((weights / norm).tolist())
            indptr[row + 1] = len(indices)
        return vocabulary, idf, indptr, np.asarray(indices, dtype=np.int64), np.asarray(data, dtype=np.float32)

    def _similarities(self, state_text: str) -> np.ndarray:
        with self._lock:
            if self._index is None:
                self._index = self._build()
            vocabulary, idf, indptr, indices, data = self._index
        query = np.zeros(len(vocabulary), dtype=np.float32)
        for feature, count in state_features(state_text).items():
            column = vocabulary.get(feature)
            if column is not None:
                query[column] = (1 + math.log(count)) * idf[column]
        norm = float(np.linalg.norm(query))
        if norm == 0.0 or len(indices) == 0:
            return np.zeros(len(indptr) - 1, dtype=np.float32)
        products = data * query[indices] / norm
        # Row sums of a CSR matrix-vector product; rows without features sum to 0.
        sums = np.zeros(len(indptr) - 1, dtype=np.float32)
        nonempty = np.flatnonzero(np.diff(indptr) > 0)
        if len(nonempty):
            sums[nonempty] = np.add.reduceat(products, indptr[:-1][nonempty])
        return sums

    def _local_similarities(self, state_text: str) -> list[tuple[float, _Entry]]:
        """Cosine similarities to the local rows, weighted by the main index's IDF (features it
        has never seen get the highest IDF: they are the rarest)."""
        with self._lock:
            local = self._local
            if not local:
                return []
            if self._index is None:
                self._index = self._build()
            vocabulary, idf, *_ = self._index
        unseen = math.log(1 + max(1, len(self._features))) + 1.0

        def weights(features: Counter) -> dict[str, float]:
            raw = {f: (1 + math.log(c)) * (float(idf[vocabulary[f]]) if f in vocabulary else unseen) for f, c in features.items()}
            norm = math.sqrt(sum(w * w for w in raw.values())) or 1.0
            return {f: w / norm for f, w in raw.items()}

        query = weights(state_features(state_text))
        scored = []
        for entry, features in local:
            other = weights(features)
            scored.append((sum(w * other.get(f, 0.0) for f, w in query.items()), entry))
        return scored

    # ------------------------------------------------------------ Policy protocol
    def propose(self, state: State, n: int) -> list[Candidate]:
        """Up to `n` distinct tactics of the nearest traced states, best first."""
        if not (self._entries or self._local) or n <= 0 or not state.goals:
            return []
        text = state.key
        neighbours: list[tuple[float, _Entry]] = []
        if self._entries:
            similarities = self._similarities(text)
            k = min(self.k, len(similarities))
            nearest = np.argpartition(-similarities, k - 1)[:k] if k < len(similarities) else np.arange(len(similarities))
            neighbours = [(float(similarities[i]), self._entries[int(i)]) for i in nearest]
        neighbours.extend(self._local_similarities(text))
        # Stable: on equal similarity the main index's order (then the local rows') decides.
        neighbours.sort(key=lambda pair: -pair[0])
        context = hypotheses(text)
        by_type: dict[str, str] = {}
        for name, kind in context.items():
            by_type.setdefault(kind, name)
        best: dict[str, float] = {}
        for similarity, entry in neighbours[: self.k]:
            if similarity <= 0.0:
                break
            tactic = _adapt(entry, context, by_type)
            if tactic is None or tactic in best:
                continue
            best[tactic] = similarity
            if len(best) >= n:
                break
        if not best:
            return []
        scores = np.array(list(best.values()), dtype=np.float64) / self.temperature
        log_probs = scores - (scores.max() + math.log(float(np.exp(scores - scores.max()).sum())))
        return [
            Candidate(tactic, float(min(0.0, lp)), self.source) for tactic, lp in zip(best.keys(), log_probs)
        ]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        """`propose` for each state."""
        return [self.propose(state, n) for state in states]


def _adapt(entry: _Entry, context: dict[str, str], by_type: dict[str, str]) -> str | None:
    """The neighbour's tactic for the asked state: a hypothesis it names that the asked context
    lacks is renamed to the asked context's hypothesis of the same type; None when there is none
    (the tactic would fail)."""
    own = hypotheses(entry.state)
    if not own:
        return entry.tactic
    renames: dict[str, str] = {}
    for name in set(_IDENT.findall(entry.tactic)) & set(own):
        if name in context and context[name] == own[name]:
            continue
        replacement = by_type.get(own[name])
        if replacement is None:
            if name in context:
                continue  # same name, another type: let the proof assistant judge
            return None
        renames[name] = replacement
    if not renames:
        return entry.tactic
    pattern = re.compile(r"(?<![\w'.])(" + "|".join(map(re.escape, renames)) + r")(?![\w'])")
    return pattern.sub(lambda match: renames[match.group(1)], entry.tactic)


def build_knn_policy(text: str) -> KNNPolicy:
    """The policy of a `knn:PATH[?k=64&temperature=0.1]` spec (PATH: a trace folder, rows JSONL,
    or a folder/file written by `KNNPolicy.save`); the options are `prover.policies.specs.KnnSpec`'s."""
    from prover.policies.specs import KnnSpec, parse_policy_spec

    spec = parse_policy_spec(text if text.startswith("knn:") else f"knn:{text}")
    if not isinstance(spec, KnnSpec):
        raise InputError(f"{text}: not a knn: spec")
    return KNNPolicy.load(spec.rows, k=spec.k, temperature=spec.temperature)
