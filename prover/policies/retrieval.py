"""Premise-selecting policies for Coq: `hammer` (CoqHammer's own premise selection and external
provers) and `retrieval` (lemmas of the library and of the file, ranked against the goal).

`RetrievalPolicy` follows ReProver's idea (Yang et al., "LeanDojo", NeurIPS 2023: retrieve
premises, then write tactics that use them) done symbolically, as Tactician's and CoqHammer's
premise selection do: candidates are what Coq's `Search` finds for the goal's head symbols plus the
lemmas the file declares before the theorem; they are ranked by BM25 (`rank_bm25.BM25Plus`) of
their statement's tokens against the goal's (BM25+, whose weights stay positive on the small
candidate sets a single goal gets); the best few are proposed as `apply L`, `rewrite L`,
`eapply L`, `eauto using L1, L2, L3` and `hauto use: L1, L2, L3`, after `intros` on a goal that
opens with binders; definitions the goal mentions are proposed for `unfold`.

The policy asks its environment through `PremiseSource` (the Coq environment implements it); the
wiring gives it the environment with `attach_premise_source`. A learned retriever can replace
`rank` later: the candidates and the tactics stay the same.
"""

from __future__ import annotations

import math
import re
from typing import Any, Protocol, Sequence, runtime_checkable

from rank_bm25 import BM25Plus

from search.types import Candidate, Policy, State, Theorem

__all__ = ["HammerPolicy", "PremiseSource", "RetrievalPolicy", "attach_premise_source", "goal_symbols", "premise_tokens"]

_RULE = "============================"
_IDENT = re.compile(r"[A-Za-z_][\w'.]*")
_TOKEN = re.compile(r"[A-Za-z_][\w']*|\d+|[^\s\w(),:\[\]{}]+")
_BINDERS = re.compile(r"^forall\s.*?,\s")
_KEYWORDS = frozenset(
    "forall exists fun match with end let in if then else as return Type Prop Set SProp".split()
)
# Symbols too common to search for on their own (they still count in the ranking).
_UBIQUITOUS = frozenset("nat Z R bool list eq not and or True False iff S O option prod sum".split())
# `Search` leaves out what cannot be a premise: definitions (`Boule : R -> posreal -> R -> Prop`)
# and record fields (`pos : posreal -> R`); `apply` of them fails and `auto using` refuses them.
_SEARCH_LEMMAS_ONLY = " -is:Definition -is:Field"
# Induction principles: `auto using P_ind` fails outright ("can be used as a hint only for
# eauto"), taking the other premises of the combination down with it; `induction` covers them.
_INDUCTION_PRINCIPLE = re.compile(r"_(?:ind|sind|rect|rec)$")
# A statement whose conclusion is a sort declares a type or a predicate, not a fact.
_SORT_CONCLUSION = re.compile(r"(?:^|->|,)\s*(?:Prop|Type|Set|SProp)\s*$")
# File-local definitions a goal may need unfolded (`dist_euc`, `interior`): no lemma about them
# precedes the first theorems that use them, so `Search` finds nothing to apply.
_LOCAL_DEFINITION = re.compile(r"^\s*(?:Definition|Let)\s+([A-Za-z_][\w']*)", re.MULTILINE)


@runtime_checkable
class PremiseSource(Protocol):
    """What a retrieval policy asks its environment (`CoqEnvironment` implements it)."""

    def search_premises(self, state: State, query: str) -> Sequence[tuple[str, str]]:
        """(name, statement) pairs the proof assistant's search finds for `query` in `state`'s scope."""
        ...

    def local_premises(self, state: State) -> Sequence[tuple[str, str]]:
        """(name, statement) pairs of the lemmas the file declares before `state`'s theorem."""
        ...


def _split_first_goal(state: State) -> tuple[list[str], str]:
    goal = re.sub(r"^\((?:unfocused|shelved|given up)\) ", "", state.goals[0]) if state.goals else ""
    if _RULE in goal:
        hyps, conclusion = goal.split(_RULE, 1)
        return [h for h in hyps.splitlines() if h.strip()], " ".join(conclusion.split())
    return [], " ".join(goal.split())


def goal_symbols(state: State) -> list[str]:
    """The constants the first goal's conclusion mentions, in order of appearance: identifiers that
    are neither hypotheses, nor bound by the conclusion's binders, nor keywords."""
    hyps, conclusion = _split_first_goal(state)
    local = {name.strip() for h in hyps for name in h.split(" : ", 1)[0].split(",")}
    bound = set()
    for binder in re.findall(r"(?:forall|exists|fun)\s+([^,]*?)(?:,|=>)", conclusion):
        bound |= set(_IDENT.findall(re.sub(r":[^)]*", "", binder)))
    symbols: list[str] = []
    for word in _IDENT.findall(conclusion):
        if word in local or word in bound or word in _KEYWORDS or word in symbols:
            continue
        symbols.append(word)
    return symbols


def is_premise(name: str, statement: str) -> bool:
    """Whether a (name, statement) `Search` or `Check` found can be used as a fact: not an
    induction principle, not a type or predicate declaration."""
    return not _INDUCTION_PRINCIPLE.search(name) and not _SORT_CONCLUSION.search(statement)


def _opens_with_products(state: State) -> bool:
    """Whether the first goal's conclusion starts with binders or hypotheses to introduce."""
    _, conclusion = _split_first_goal(state)
    return conclusion.startswith(("forall ", "~")) or " -> " in conclusion


def premise_tokens(text: str) -> list[str]:
    """Tokens for ranking: identifiers (qualified and compound names also in their parts) and
    operator symbols."""
    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        tokens.append(token)
        if "." in token.strip(".") or "_" in token.strip("_"):
            # Coq names say what they are about: `Nat.add_comm` also counts as add, comm.
            tokens.extend(part for part in re.split(r"[._]", token) if part and part != token)
    return tokens


class RetrievalPolicy:
    """Tactics that use the lemmas best matching the first goal (see the module docstring).

    premises: how many ranked lemmas get `apply`/`rewrite`/`eapply` candidates.
    combined: how many of the best go into `eauto using ...` and `hauto use: ...`.
    hammer_tactics: propose `hauto use: ...` (needs CoqHammer's Tactics in the environment);
        None means "when CoqHammer is installed".
    Without a `premise_source` (nothing attached) it proposes nothing.
    """

    source = "retrieval"

    def __init__(self, *, premises: int = 6, combined: int = 3, hammer_tactics: bool | None = None) -> None:
        if hammer_tactics is None:
            from prover.backends.coq import hammer_available

            hammer_tactics = hammer_available()
        self.premises = premises
        self.combined = combined
        self.hammer_tactics = hammer_tactics
        self.premise_source: PremiseSource | None = None
        self.local_definitions: frozenset[str] = frozenset()

    def candidates(self, state: State) -> list[tuple[str, str]]:
        """Every premise considered for `state`: the file's earlier lemmas, then `Search` results
        for all the goal's symbols together and for each uncommon one alone (first occurrence kept)."""
        if self.premise_source is None or not state.goals:
            return []
        symbols = goal_symbols(state)
        queries = ([" ".join(symbols[:4])] if len(symbols) > 1 else []) + [s for s in symbols if s not in _UBIQUITOUS][:4]
        seen: dict[str, str] = {}
        for name, statement in self.premise_source.local_premises(state):
            seen.setdefault(name, statement)
        for query in queries:
            for name, statement in self.premise_source.search_premises(state, query + _SEARCH_LEMMAS_ONLY):
                seen.setdefault(name, statement)
        return [(name, statement) for name, statement in seen.items() if is_premise(name, statement)]

    def rank(self, state: State, premises: Sequence[tuple[str, str]]) -> list[tuple[float, str, str]]:
        """(BM25 score, name, statement) best first: statement and name tokens against the goal's."""
        if not premises:
            return []
        hyps, conclusion = _split_first_goal(state)
        # The goal's variables are named freely: only its constants and symbols say what it is about.
        variables = {name.strip() for h in hyps for name in h.split(" : ", 1)[0].split(",")}
        # Facts count, declarations of variables (`l : list nat`) do not.
        facts = [kind for h in hyps if not re.fullmatch(r"[\w.' ]+", kind := h.split(" : ", 1)[-1].strip())]
        text = premise_tokens(conclusion) * 2 + premise_tokens(" ".join(facts))
        query = [token for token in text if token not in variables]
        # A premise is its name and its body: its binders' types say little about what it proves.
        documents = [premise_tokens(f"{name} {_BINDERS.sub('', statement)}") for name, statement in premises]
        scores = BM25Plus(documents).get_scores(query)
        wanted = set(query)
        # A premise that shares no token with the goal cannot be about it, however BM25+ scores it.
        order = sorted((i for i in range(len(premises)) if wanted & set(documents[i])), key=lambda i: (-scores[i], i))
        return [(float(scores[i]), premises[i][0], premises[i][1]) for i in order]

    def observe_theorem(self, theorem: Theorem) -> None:
        """Note the definitions the theorem's file makes before it (candidates for `unfold`)."""
        self.local_definitions = frozenset(_LOCAL_DEFINITION.findall(theorem.header))

    def propose(self, state: State, n: int) -> list[Candidate]:
        """Up to `n` tactics using the best-ranked premises, log-probabilities normalised over them.

        A goal that opens with binders or hypotheses gets each tactic after `intros;` first: the
        premises are about its conclusion, which `apply L` on the unintroduced goal rarely matches."""
        if n <= 0 or not state.goals or state.goals[0].startswith(("(unfocused) ", "(shelved) ")):
            return []
        ranked = self.rank(state, self.candidates(state))
        scored: list[tuple[float, str]] = []
        if ranked:
            best = [name for _, name, _ in ranked[: self.combined]]
            # eauto: auto refuses, as a whole, a lemma with a variable its conclusion lacks.
            scored.append((-0.4, f"eauto using {', '.join(best)}"))
            if self.hammer_tactics:
                scored.append((-0.6, f"hauto use: {', '.join(best)}"))
            for place, (_, name, statement) in enumerate(ranked[: self.premises]):
                conclusion = statement.rsplit(",", 1)[-1].rsplit("->", 1)[-1]
                scored.append((-0.3 * place, f"apply {name}"))
                if re.search(r"(?<![<>])=(?!>)|<->", conclusion):
                    scored.append((-0.2 - 0.3 * place, f"rewrite {name}"))
                    scored.append((-1.0 - 0.3 * place, f"rewrite <- {name}"))
                scored.append((-0.9 - 0.3 * place, f"eapply {name}"))
        symbols = goal_symbols(state)
        # The file's own definitions, and the conclusion's leading constant (a library definition
        # such as `Boule`; on an inductive or an axiom `unfold` fails at once).
        unfoldable = [symbol for symbol in symbols if symbol in self.local_definitions]
        _, conclusion = _split_first_goal(state)
        body = set(_IDENT.findall(_BINDERS.sub("", conclusion)))
        leading = next((symbol for symbol in symbols if symbol not in _UBIQUITOUS and symbol in body), None)
        if leading is not None and leading not in unfoldable:
            unfoldable.append(leading)
        if unfoldable:
            scored.append((-0.5, f"unfold {', '.join(unfoldable)}"))
        if not scored:
            return []
        if _opens_with_products(state):
            scored = [(score, f"intros; {tactic}") for score, tactic in scored] + [
                (score - 1.0, tactic) for score, tactic in scored
            ]
        scored.sort(key=lambda item: -item[0])
        normaliser = math.log(sum(math.exp(score) for score, _ in scored))
        return [Candidate(tactic=t, log_prob=min(s - normaliser, 0.0), source=self.source) for s, t in scored[:n]]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        """`propose` for each state (the premise source is asked one state at a time)."""
        return [self.propose(state, n) for state in states]


def attach_premise_source(policy: Policy, env: Any) -> int:
    """Give every `RetrievalPolicy` inside `policy` (a mixture's parts too) `env` as its premise
    source when `env` is one; returns how many were attached."""
    if not isinstance(env, PremiseSource):
        return 0
    if isinstance(policy, RetrievalPolicy):
        policy.premise_source = env
        return 1
    return sum(attach_premise_source(inner, env) for inner in getattr(policy, "policies", ()))


class HammerPolicy:
    """Proposes `hammer` for the theorem's statement (by default; `root_only=False`: for every
    goal that is not a bullet position or a shelved remainder).

    One candidate per state: CoqHammer chooses its premises itself. The environment (which loads
    CoqHammer's plugin) replaces a successful call by the tactic CoqHammer reconstructs, so proofs
    never depend on the external provers. A call costs seconds to a minute: once at the root, as
    CoqHammer's own evaluation runs it, it leaves the rest of the budget to the other policies of
    a mixture (`portfolio+0.02*hammer`: after the cheap closers); at every node it would eat the
    budget on subgoals.
    """

    source = "hammer"

    def __init__(self, *, root_only: bool = True) -> None:
        # root_only: call `hammer` once per theorem, on its statement, as CoqHammer's own evaluation
        # does; a failed call costs seconds to a minute, and below the root it eats the budget.
        self.root_only = root_only

    def propose(self, state: State, n: int) -> list[Candidate]:
        """`[hammer]` (log-probability 0) when the first goal is a focused one (and, with
        `root_only`, the state is the theorem's statement), else nothing."""
        if n <= 0 or not state.goals or state.goals[0].startswith(("(unfocused) ", "(shelved) ")):
            return []
        if self.root_only and state.path:
            return []
        return [Candidate(tactic="hammer", log_prob=0.0, source=self.source)]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        """`propose` for each state."""
        return [self.propose(state, n) for state in states]
