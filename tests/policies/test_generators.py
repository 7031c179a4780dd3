"""Proposal generators on hand-written Coq goal texts (no Coq): what each one proposes, that odd
goals make them propose nothing instead of crashing, and the portfolio's `generators` option."""

from __future__ import annotations

from fractions import Fraction

import pytest

from prover.errors import InputError
from prover.policies import build_policy
from prover.policies.coq_portfolio import CoqPortfolioPolicy, parse_coq_goal
from prover.policies.generators import (
    DEFAULT_GENERATORS,
    GENERATORS,
    FileContext,
    GoalView,
    build_generators,
    context_from_header,
    parse_generator_names,
)
from prover.policies.generators.cas import ComputerAlgebraGenerator
from prover.policies.generators.induction import InductionGenerator, forall_binders
from prover.policies.generators.modular import ModularGenerator
from prover.policies.generators.nlarith import NonlinearHintGenerator, slack_of
from prover.policies.generators.terms import Unreadable, evaluate, parse_term, to_coq
from prover.policies.generators.witness import WitnessGenerator, bounded_values, find_witnesses
from search.types import State, Theorem

RULE = "\n============================\n"


def view(goal: str, file: FileContext = FileContext()) -> GoalView:
    parsed = parse_coq_goal(goal)
    return GoalView(parsed.hypotheses, parsed.conclusion, file)


def proposed(generator, goal: str, file: FileContext = FileContext()) -> list[str]:
    return [p.tactic for p in generator.propose(view(goal, file))]


# --- the goal-text reader ---------------------------------------------------------------------


def test_parser_follows_coq_precedence_and_round_trips() -> None:
    term = parse_term("- x ^ 2 + 3 * y / 2 <= Rabs (x - 1)")
    assert term[0] == "rel" and term[1] == "<="
    assert to_coq(term) == "((- (x ^ 2)) + ((3 * y) / 2)) <= (Rabs (x - 1))"
    assert parse_term("0 < x < 5")[0] == "and"  # Coq's chained notation
    assert parse_term("(a + b)%Z mod 7 = 5") == ("rel", "=", ("bin", "mod", ("bin", "+", ("var", "a"), ("var", "b")), ("num", "7")), ("num", "5"))


def test_evaluation_is_exact_and_follows_coq_conventions() -> None:
    assert evaluate(parse_term("x / 3"), {"x": Fraction(7)}, "nat") == 2  # floor division
    assert evaluate(parse_term("x - 9"), {"x": Fraction(7)}, "nat") == 0  # truncated subtraction
    assert evaluate(parse_term("x / 3"), {"x": Fraction(7)}, "R") == Fraction(7, 3)
    assert evaluate(parse_term("x mod 0"), {"x": Fraction(7)}, "Z") == 7
    with pytest.raises(Unreadable):
        evaluate(parse_term("sqrt x"), {"x": Fraction(4)}, "R")


@pytest.mark.parametrize(
    "goal",
    [
        "weird ::: goal @@ ]]\n====\n{{ zz",
        "H : forall x : R, f x = x\n============================\nfun x => x = id",
        "l : list nat" + RULE + "match l with | nil => True | _ :: _ => False end",
        "x : R" + RULE + "(" * 300 + "x" + ")" * 300 + " = x",
        "" + RULE + "",
        "x : R" + RULE + "x ^ 10000000 mod 3 = 1",
        "n : nat\nH : n < 10 ^ 100" + RULE + "exists m, m * m = n",
    ],
)
def test_odd_goals_never_crash_any_generator(goal: str) -> None:
    for generator in build_generators(tuple(GENERATORS)):
        for proposal in generator.propose(view(goal)):
            assert proposal.tactic.strip()
    # The portfolio as a whole stays usable on them.
    policy = CoqPortfolioPolicy(hammer=False)
    assert policy.propose(State(goals=(goal,)), 8)


# --- 1. nonlinear hints -------------------------------------------------------------------------


def test_nlarith_proposes_squares_of_differences_and_hypothesis_products() -> None:
    goal = "a, b : R\nh0 : 0 < a\nh1 : 0 < b" + RULE + "(a + b) ^ 4 <= 8 * (a ^ 4 + b ^ 4)"
    tactics = proposed(NonlinearHintGenerator(), goal)
    assert "pose proof (pow2_ge_0 (a - b)); nra" in tactics
    assert any("Rmult_le_pos (a) (b) ltac:(lra) ltac:(lra)" in t and t.endswith("nra") for t in tactics)
    assert any(t.endswith("psatz R 2") for t in tactics)
    assert slack_of(parse_term("x <= y")) == ("bin", "-", ("var", "y"), ("var", "x"))


def test_nlarith_is_silent_on_linear_goals_and_uses_z_lemmas_in_z() -> None:
    assert proposed(NonlinearHintGenerator(), "x, y : R\nh : x < y" + RULE + "x + 1 < y + 1") == []
    z_tactics = proposed(NonlinearHintGenerator(), "x, y : Z" + RULE + "2 * x * y <= x ^ 2 + y ^ 2")
    assert "pose proof (Z.square_nonneg (x - y)); nia" in z_tactics


def test_nlarith_gives_square_root_facts_and_splits_absolute_values() -> None:
    roots = proposed(NonlinearHintGenerator(), "k, x : R\nH : x = (13 - sqrt 131) / 4" + RULE + "2 * x ^ 2 - 13 * x + k = 0")
    assert "pose proof (sqrt_pos (131)); pose proof (sqrt_sqrt (131) ltac:(nra)); nra" in roots
    absolute = proposed(NonlinearHintGenerator(), "x, y : R\nH : Rabs (x + y) + Rabs (x - y) = 2" + RULE + "x ^ 2 <= 8")
    assert any(t.startswith("repeat match goal with H : context [Rabs _]") and "destruct (Rcase_abs e)" in t and t.endswith("; nra") for t in absolute)
    assert not any("Rabs" in t for t in proposed(NonlinearHintGenerator(), "x : R" + RULE + "x ^ 2 >= 0"))


# --- 2. computer algebra ------------------------------------------------------------------------


def test_cas_solves_the_hypotheses_equations_and_substitutes() -> None:
    goal = "a, b : R\nh0 : a + b = 5\nh1 : a - b = 1" + RULE + "a ^ 5 * b ^ 2 = 972"
    tactics = proposed(ComputerAlgebraGenerator(), goal)
    assert "assert (a = 3) by nra; subst a" in tactics
    assert "assert (b = 2) by nra; subst b" in tactics
    fractions = proposed(ComputerAlgebraGenerator(), "x : R\nh0 : 125 / 8 = x / 12" + RULE + "x = 375 / 2")
    assert "assert (x = (375 / 2)) by nra; subst x" in fractions


def test_cas_factors_completes_squares_and_asserts_denominators() -> None:
    factored = proposed(
        ComputerAlgebraGenerator(),
        "p, q, r, x : R\nH : (x - p) * (x - q) = (r - p) * (r - q)" + RULE + "x = p + q - r",
    )
    assert any(t.startswith("assert (Hf :") and "Rmult_integral" in t for t in factored)
    square = proposed(ComputerAlgebraGenerator(), "x, y : R\nH : y = x ^ 2 - 6 * x + 13" + RULE + "4 <= y")
    assert "pose proof (pow2_ge_0 ((- 3) + x)); nra" in square
    field = proposed(ComputerAlgebraGenerator(), "x : R\nh : 0 < x" + RULE + "x / x = 1")
    assert "assert (x <> 0) by nra; field_simplify_eq; nra" in field


def test_cas_evaluates_square_roots_unfolds_definitions_and_computes_substitutions() -> None:
    definition = "f : R -> R\nh0 : forall x : R, f x = x ^ 2 - 4 * sqrt x + 1"
    assert "rewrite !h0" in proposed(ComputerAlgebraGenerator(), definition + RULE + "f (f 4) = 70")
    unfolded = proposed(ComputerAlgebraGenerator(), definition + RULE + "(4 ^ 2 - 4 * sqrt 4 + 1) ^ 2 - 4 * sqrt (4 ^ 2 - 4 * sqrt 4 + 1) + 1 = 70")
    # The inner root first (4 = 2 * 2); the outer one is evaluated once it is closed arithmetic.
    assert unfolded[0] == "replace (sqrt (4)) with (2) by (replace (4) with (2 * 2) by lra; symmetry; apply sqrt_square; lra)"
    assert not any("sqrt (((4" in t for t in unfolded)
    assert not any(t.startswith("replace (sqrt") for t in proposed(ComputerAlgebraGenerator(), "x : R" + RULE + "sqrt 7 < x"))
    halves = proposed(ComputerAlgebraGenerator(), "x : R\nH : x = sqrt (9 / 4)" + RULE + "x = 3 / 2")
    assert any(t.startswith("replace (sqrt ((9 / 4))) with ((3 / 2)) in * by") for t in halves)
    computed = proposed(ComputerAlgebraGenerator(), "t, s : R\nn : nat\nH : t = 2 * s - s ^ 2\nH0 : s = INR (n * n) - 2 ^ n + 1\nH1 : n = 3%nat" + RULE + "t = 0")
    assert "subst; simpl; lra" in computed
    assert not any("field_simplify in *" in t for t in proposed(ComputerAlgebraGenerator(), "x, y : R\nh : x / y = 2\nh1 : y > 0" + RULE + "x = 2 * y"))


def test_cas_splits_logarithms_and_computes_casts_of_literals() -> None:
    from prover.policies.generators.cas import LOG_RULES

    system = proposed(ComputerAlgebraGenerator(), "x, y : R\nH : 0 < x\nH0 : 0 < y\nH1 : ln (x * y ^ 3) = 1" + RULE + "ln (x * y) = 3 / 5")
    assert f"{LOG_RULES}; lra" in system
    # A closed quotient of logarithms: no variables, still read as real arithmetic through `ln`.
    closed = proposed(ComputerAlgebraGenerator(), RULE + "ln (5 ^ 4) / ln (5 ^ 2) = 2")
    assert any("ln_increasing 1 5 " in t and t.endswith("field; lra") for t in closed)
    assert not any("ln" in t for t in proposed(ComputerAlgebraGenerator(), "x : R" + RULE + "x + 1 = 2"))
    assert "simpl; lra" in proposed(ComputerAlgebraGenerator(), RULE + "INR (fact 3) * (2 ^ 3 + 3) / 2 = 33")


def test_cas_instantiates_universal_hypotheses_where_they_are_needed() -> None:
    shifted = "a, b, c : R\nf : R -> R\nH : forall x : R, f (x - 2) = x ^ 2 + 1\nH0 : forall x : R, f x = a * x ^ 2 + b * x + c"
    tactics = proposed(ComputerAlgebraGenerator(), shifted + RULE + "a + b + c = 10")
    # x - 2 = 1 at x = 3: the instance's argument rewritten to 1, then f unfolded by its definition.
    assert ("pose proof (H 3) as Hv; match type of Hv with context [f ?a] => replace a with (1) in Hv by lra end; "
            "rewrite !H0 in *; nra") in tactics
    assert "rewrite !H0 in *" not in tactics  # f is applied only under H's binder: nothing to rewrite
    recursive = proposed(ComputerAlgebraGenerator(), "f : R -> R\nh : forall x : R, f x = f (x - 1) + 2" + RULE + "f 3 = 6")
    assert not any(t.startswith("rewrite !h") for t in recursive)  # it would rewrite forever
    recurrence = "k : nat\nu : nat -> nat\nh0 : u 0 = 4\nh1 : forall n : nat, u (n + 2) = u n + u (n + 1)"
    instances = proposed(ComputerAlgebraGenerator(), recurrence + RULE + "u 3 = k")
    # n + 2 = 3 at n = 1; n + 2 = 0 would need n = -2, no natural number.
    assert "pose proof (h1 1) as Hv; match type of Hv with context [u ?a] => replace a with (3) in Hv by lia end" in instances
    assert not any("h1 (- 2)" in t for t in instances)
    fractions = "A, B : R\nH : forall x : R, x - 1 <> 0 /\\ x + 1 <> 0 -> 1 / ((x - 1) * (x + 1)) = A / (x - 1) + B / (x + 1)"
    instances = proposed(ComputerAlgebraGenerator(), fractions + RULE + "A = 1 / 2 /\\ B = - (1 / 2)")
    # 1 and -1 break the premises: the points are 0 and 2, each premise discharged by lra.
    assert ("pose proof (H 0 ltac:(repeat split; lra)) as Hi0; pose proof (H 2 ltac:(repeat split; lra)) as Hi1; "
            "field_simplify in Hi0; field_simplify in Hi1; repeat split; lra") in instances


# --- 3. witnesses and bounded cases -------------------------------------------------------------


def test_witness_search_finds_small_witnesses_by_evaluation() -> None:
    assert proposed(WitnessGenerator(), RULE + "exists n : nat, n * n = 49 /\\ 3 < n")[0] == "exists 7"
    assert proposed(WitnessGenerator(), RULE + "exists x : Z, x * x * x = -8")[0] == "exists (-2)"
    assert find_witnesses([("x", "R"), ("y", "R")], parse_term("x + y = 1 /\\ x - y = 1 / 2"))[0] == (Fraction(3, 4), Fraction(1, 4))


def test_bounded_variables_get_an_interval_case_split() -> None:
    assert bounded_values("n", [parse_term("n * n < 30")], "nat") == [0, 1, 2, 3, 4, 5]
    assert bounded_values("n", [parse_term("2 <= n")], "nat") is None  # not bounded above
    tactics = proposed(WitnessGenerator(), "n : nat\nH : n * n < 30" + RULE + "n <> 7")
    assert any(t.startswith("assert (Hcase : n = 0 \\/ n = 1 \\/ n = 2 \\/ n = 3 \\/ n = 4 \\/ n = 5) by nia") for t in tactics)


# --- 4. modular arithmetic ----------------------------------------------------------------------


def test_modular_gives_division_equations_rewrites_and_remainder_cases() -> None:
    tactics = proposed(ModularGenerator(), "n : nat\nH : n mod 7 = 5" + RULE + "5 * n mod 7 = 4")
    assert any(t.startswith("pose proof (Nat.div_mod (5 * n) 7 ltac:(lia))") and t.endswith("nia") for t in tactics)
    assert "rewrite Nat.mul_mod by lia" in tactics
    z = proposed(ModularGenerator(), "x : Z" + RULE + "(x * x) mod 4 <> 2")
    # Parenthesised: a step that starts with `Z.` would be refused as a command.
    assert "(Z.to_euclidean_division_equations; nia)" in z
    closed = proposed(ModularGenerator(), RULE + "1999 ^ 2000 mod 5 = 1")
    assert any(t.startswith("apply Nat2Z.inj;") for t in closed)
    assert proposed(ModularGenerator(), "x : R" + RULE + "x = x") == []


def test_modular_splits_on_the_remainder_of_each_variable_of_a_dividend() -> None:
    # x = 3q + r with r in 0..2, substituted, then the division equations: a^2 mod 3 is 0 or 1.
    z = proposed(ModularGenerator(), "a : Z" + RULE + "a ^ 2 mod 3 = 0 \\/ a ^ 2 mod 3 = 1")
    split = [t for t in z if t.startswith("pose proof (Z.div_mod a 3 ltac:(lia)) as Hx")]
    assert split and "remember (Z.modulo a 3) as r" in split[0] and "r = 0%Z \\/ r = 1%Z \\/ r = 2%Z" in split[0]
    assert split[0].endswith("subst r; (Z.to_euclidean_division_equations; nia)")
    # In nat: every variable of the dividend, closed by the nat division equations (no zify import needed).
    nat = proposed(ModularGenerator(), "n, m : nat" + RULE + "(n * n + m) mod 2 = 0")
    assert sum(t.startswith(f"pose proof (Nat.div_mod {v} 2") for t in nat for v in "nm") >= 2
    assert any("r = 0%nat \\/ r = 1%nat" in t and t.endswith("nia)") for t in nat)
    assert not any("Nat.pow_mod" in t or "Zpower_mod" in t for t in nat + z)  # not in Coq 8.16's default scope
    # A divisor too large for a case split gets none.
    assert not any("remember" in t for t in proposed(ModularGenerator(), "n : nat" + RULE + "n mod 97 < 97"))


def test_divisibility_gets_the_polynomial_quotient_or_the_remainder_split() -> None:
    assert parse_term("(a + b | a ^ 2 - b ^ 2)")[:2] == ("app", "divide")
    assert to_coq(parse_term("(6 | n * (n + 1))")) == "(6 | (n * (n + 1)))"
    quotient = proposed(ModularGenerator(), "a, b : Z" + RULE + "(a + b | a ^ 2 - b ^ 2)")
    assert "exists ((a + ((- 1) * b))); ring" in quotient
    # A literal divisor: to `e mod 6 = 0`, then the remainder split on n closes it.
    product = proposed(ModularGenerator(), "n : Z" + RULE + "(6 | n * (n + 1) * (n + 2))")
    assert any(t.startswith("apply Z.mod_divide; [lia | pose proof (Z.div_mod n 6") and t.endswith("nia)]") for t in product)
    assert not any(t.startswith("exists") for t in product)  # n(n+1)(n+2)/6 is no integer polynomial
    nat = proposed(ModularGenerator(), "n : nat" + RULE + "Nat.divide 2 (n * (n + 1))")
    assert any(t.startswith("apply Nat.mod_divide; [lia | pose proof (Nat.div_mod n 2") for t in nat)
    # In nat a quotient with a negative coefficient is no witness (truncated subtraction).
    assert not any(t.startswith("exists") for t in proposed(ModularGenerator(), "a, b : nat" + RULE + "Nat.divide (a + b) (a * a - b * b)"))


# --- 5. induction and structure -----------------------------------------------------------------


def test_induction_on_user_types_and_forall_binders_with_follow_ups() -> None:
    tactics = proposed(InductionGenerator(), "t : tree" + RULE + "mirror (mirror t) = t")
    assert tactics[0] == "induction t"
    assert "induction t; intros; simpl; congruence" in tactics and "induction t; intros; simpl; lia" in tactics
    conclusion = "forall (A : Type) (l1 l2 : list A), length (l1 ++ l2) = length l1 + length l2"
    assert forall_binders(conclusion) == [("A", "Type"), ("l1", "list A"), ("l2", "list A")]
    listed = proposed(InductionGenerator(), RULE + conclusion)
    assert "induction l1; intros; simpl; congruence" in listed
    assert not any(t.startswith("induction A") for t in listed)


def test_induction_for_real_sums_absorbs_the_lower_bound() -> None:
    goal = "n : nat\nH : (1 <= n)%nat" + RULE + "sum_f_R0 (fun k : nat => / (INR (k + 1) * INR (k + 2))) (n - 1) = INR n / (INR n + 1)"
    tactics = proposed(InductionGenerator(), goal)
    strengthened = [t for t in tactics if t.startswith("destruct n as [|n]; [lia |]; rewrite ?Nat.sub_succ, ?Nat.sub_0_r in *; clear H; induction n")]
    assert strengthened and "rewrite tech5, IH" in strengthened[0] and "field" in strengthened[0]
    assert not any("tech5" in t for t in proposed(InductionGenerator(), "n : nat" + RULE + "n + 0 = n"))


def test_divisibility_induction_computes_the_witnesses() -> None:
    from prover.policies.generators.induction import _power_form, divisibility_induction

    assert _power_form(parse_term("10 ^ n - 1"), "n") == (1, 10, -1)
    assert _power_form(parse_term("2 * 4 ^ n + 1"), "n") == (2, 4, 1)
    assert _power_form(parse_term("n ^ 2 + 1"), "n") is None
    tactics = proposed(InductionGenerator(), "n : nat\nH : 0 < n" + RULE + "Nat.divide 9 (10 ^ n - 1)")
    # 10^n - 1 = 9c  =>  10^(n+1) - 1 = 9 (10c + 1); at n = 0 the witness is 0, so the bound is dropped.
    assert any(t.startswith("clear H; induction n as [|n IH]; [exists 0; simpl; lia |") and "exists (10 * c + 1)" in t for t in tactics)
    assert "exists (8 * c - 6)" in divisibility_induction("n", 7, (1, 8, 6))
    assert divisibility_induction("n", 5, (1, 10, 1)) is None  # 5 does not divide 10^0 + 1


def test_destruct_inversion_unfold_and_the_files_lemmas() -> None:
    header = (
        "Inductive ev : nat -> Prop := ev0 : ev 0 | evSS n : ev n -> ev (S (S n)).\n"
        "Definition double (n : nat) := n + n.\n"
        "Lemma double_S : forall n, double (S n) = S (S (double n)).\nProof. unfold double; lia. Qed.\n"
        "Lemma unproved : forall n, double n = 2 * n.\nProof.\nAdmitted.\n"
    )
    file = context_from_header(header)
    assert file.definitions == ("double",) and file.equations == ("double_S",) and file.lemmas == ("double_S",)
    goal = "b : bool\no : option nat\nn : nat\nH : ev n" + RULE + "double n = (if b then n else n) + n"
    tactics = proposed(InductionGenerator(), goal, file)
    assert {"destruct b; simpl; auto", "destruct o; simpl; auto", "destruct b eqn:?"} <= set(tactics)
    assert "inversion H; subst; auto" in tactics
    assert {"unfold double", "rewrite double_S", "apply double_S"} <= set(tactics)
    assert not any("unproved" in t for t in tactics)  # an admitted lemma would make the proof rest on it


# --- the portfolio's option ---------------------------------------------------------------------


def test_generator_option_parses_none_all_and_lists() -> None:
    assert parse_generator_names("none") == ()
    assert parse_generator_names("all") == tuple(GENERATORS)
    assert parse_generator_names("cas, nlarith") == ("cas", "nlarith")
    with pytest.raises(InputError, match="unknown generator"):
        parse_generator_names("cas,magic")
    assert DEFAULT_GENERATORS == tuple(GENERATORS)


def test_portfolio_spec_selects_generators_and_marks_their_candidates() -> None:
    goal = "t : tree" + RULE + "mirror (mirror t) = t"
    plain = build_policy("portfolio?generators=none", backend="coq")
    default = build_policy("portfolio", backend="coq")
    only_induction = build_policy("portfolio?generators=induction", backend="coq")
    assert not any(c.tactic.startswith("induction t;") for c in plain.propose(State(goals=(goal,)), 64))
    found = {c.tactic: c.source for c in default.propose(State(goals=(goal,)), 64)}
    assert found["induction t; intros; simpl; congruence"] == "portfolio/induction"
    assert any(c.tactic.startswith("induction t;") for c in only_induction.propose(State(goals=(goal,)), 64))
    with pytest.raises(InputError):
        build_policy("portfolio?generators=bogus", backend="coq")
    with pytest.raises(InputError):
        build_policy("portfolio?colour=red", backend="coq")
    with pytest.raises(InputError):
        build_policy("portfolio?generators=all", backend="lean")


def test_observe_theorem_feeds_the_files_definitions_through_a_mixture() -> None:
    mixture = build_policy("portfolio+portfolio?generators=none", backend="coq")
    header = "Definition sq (n : nat) := n * n.\n"
    mixture.observe_theorem(Theorem(name="t", statement="Lemma t : forall n, sq n = n * n.", header=header))
    tactics = [c.tactic for c in mixture.propose(State(goals=("n : nat" + RULE + "sq n = n * n",)), 64)]
    assert "unfold sq" in tactics
