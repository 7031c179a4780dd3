"""Computer algebra for intermediate facts: sympy reads the goal and says what is true.

- Solve the hypotheses' equations (linear systems and small polynomial ones): a variable with one
  value in every solution becomes `assert (x = 3) by nra; subst x` (`by nia` in Z).
- Factor a hypothesis `p = q` whose difference factors: `assert ((x - r) * (x + r - s) = 0) by nra`
  and split it with `Rmult_integral`/`Z.mul_eq_0`.
- Complete the square of an inequality's slack (after substituting the hypotheses' definitions
  `y = ...`): the hint `(2*a*x + b)^2 >= 0` then `nra`/`nia`.
- Division by a non-constant: assert each denominator non-zero, then `field_simplify_eq`/
  `field_simplify in H` (one hypothesis at a time: Coq 8.16 has no `field_simplify in *`) and `nra`.
- Evaluation: a square root of a closed expression whose value is a rational square becomes that
  value (`sqrt (2 * 8 - 7) = 3` by `sqrt_square`); a function defined by a hypothesis
  `forall x, f x = ...` is unfolded everywhere (`rewrite !h`); substituted values are computed
  (`subst; simpl`, so `INR (3 * 3)` and `2 ^ 3` become numbers) before `lra`/`nra`.
- Instances: a hypothesis `forall x, ... f (x + 3) = ...` is instantiated where its argument
  meets a constant the goal or a definition needs (`x + 3 = 1` solved: `H (-2)`, then the argument
  rewritten to `1`), and any universal hypothesis at a few small points whose premises hold (for
  identities such as partial fractions: two instances, `field_simplify`, `lra`).
- Logarithms: `ln` of products, quotients and powers rewritten into sums of `ln` of the factors
  (`ln_mult`, `ln_div`, `ln_pow`, side conditions by `lra`), so that equations between logarithms
  become linear in `ln x`, `ln y`; each `ln b` of a literal `b > 1` gets `0 < ln b` (for `field`).
"""

from __future__ import annotations

import re

from prover.policies.generators.base import GoalView, Proposal, domain_of
from fractions import Fraction
from math import isqrt

from prover.policies.generators.terms import Domain, Term, Unreadable, evaluate, subterms, to_coq, to_sympy, variables

__all__ = ["ComputerAlgebraGenerator", "sympy_to_coq", "LOG_RULES"]

LOG_RULES = (
    "rewrite ?ln_mult in * by (try apply pow_lt; lra); rewrite ?ln_div in * by (try apply pow_lt; lra); "
    "rewrite ?ln_pow in * by lra; simpl in *"
)
"""`ln` of products, quotients and powers split into sums of `ln` of the factors, everywhere."""

_MAX_EQUATIONS = 4
_MAX_UNKNOWNS = 4
_MAX_DEGREE = 3


def sympy_to_coq(expression, domain: Domain) -> str:
    """Coq text for a sympy expression built from numbers, symbols, +, *, integer powers and sqrt."""
    import sympy

    if expression.is_Integer:
        value = int(expression)
        return str(value) if value >= 0 else f"(- {-value})"
    if expression.is_Rational:
        if domain != "R":
            raise Unreadable("a fraction outside R")
        sign = "- " if expression < 0 else ""
        return f"({sign}{abs(expression.p)} / {expression.q})"
    if expression.is_Symbol:
        return expression.name.replace("_prime_", "'").replace("__", ".")
    if expression.is_Add:
        terms = sorted(expression.args, key=sympy.default_sort_key)
        return "(" + " + ".join(sympy_to_coq(term, domain) for term in terms) + ")"
    if expression.is_Mul:
        return "(" + " * ".join(sympy_to_coq(factor, domain) for factor in expression.args) + ")"
    if expression.is_Pow:
        base, exponent = expression.args
        if exponent == sympy.Rational(1, 2) and domain == "R":
            return f"(sqrt {sympy_to_coq(base, domain)})"
        if exponent.is_Integer and exponent > 0:
            return f"({sympy_to_coq(base, domain)} ^ {int(exponent)})"
        if exponent.is_Integer and exponent < 0 and domain == "R":
            return f"(/ {sympy_to_coq(base ** -exponent, domain)})"
    raise Unreadable(f"cannot print {expression}")


class ComputerAlgebraGenerator:
    """Solved values, factorisations, completed squares and field simplification, found by sympy."""

    name = "cas"

    def propose(self, goal: GoalView) -> list[Proposal]:
        logarithms = self._logarithms(goal)
        domain = domain_of(goal)
        if domain is None:
            return logarithms
        out: list[Proposal] = self._definitions(goal) + logarithms + self._instances(goal, domain)
        if domain == "R":
            out.extend(self._evaluate_roots(goal))
            if re.search(r"\b(?:INR|IZR|fact)\b", goal.conclusion):
                out.append(Proposal(-0.8, "simpl; lra"))  # casts of literals computed to numbers
                out.append(Proposal(-1.1, "simpl; nra"))
        numbers = set(goal.variables_of(domain))
        if not numbers and domain != "R":
            return out
        facts = []
        for name, kind in goal.facts():
            term = goal.term(kind)
            if term is not None and term[0] == "rel":
                facts.append((name, term))
        conclusion = goal.term(goal.conclusion)
        if domain == "R" and any(term[1] == "=" and term[2][0] == "var" for _, term in facts):
            out.append(Proposal(-0.9, "subst; simpl; lra"))
            out.append(Proposal(-1.1, "subst; simpl; nra"))
        for method in (self._solve, self._factor, self._complete_square, self._field):
            try:
                out.extend(method(goal, facts, conclusion, domain, numbers))
            except Exception:  # noqa: BLE001 - sympy raises many kinds; one method failing leaves the others
                continue
        return out

    def _solve(self, goal, facts, conclusion, domain: Domain, numbers: set[str]) -> list[Proposal]:
        import sympy

        equations = []
        for _, term in facts:
            if term[1] != "=":
                continue
            try:
                equation = to_sympy(term[2], domain) - to_sympy(term[3], domain)
            except Unreadable:
                continue
            if equation.has(sympy.Function, sympy.Abs, sympy.floor, sympy.Mod, sympy.Max):
                continue
            if any(symbol.name not in numbers for symbol in equation.free_symbols):
                continue  # a parameter of another type: solving symbolically is slow and rarely gives values
            equations.append(equation)
        if not equations or len(equations) > _MAX_EQUATIONS:
            return []
        unknowns = sorted(
            {symbol for equation in equations for symbol in equation.free_symbols if symbol.name in numbers}, key=str
        )
        if not unknowns or len(unknowns) > _MAX_UNKNOWNS:
            return []
        if not all(sympy.fraction(sympy.together(e))[0].is_polynomial(*unknowns) for e in equations):
            return []  # `2 ^ n`, `sqrt x`: not a system sympy solves quickly
        nonlinear = 0
        for equation in equations:
            numerator = sympy.fraction(sympy.together(equation))[0]
            degree = sympy.Poly(numerator, *unknowns).total_degree()
            if degree > _MAX_DEGREE:
                return []
            nonlinear += degree > 1
        if nonlinear > 1 or len(unknowns) > len(equations) or (nonlinear and len(unknowns) > 2):
            return []  # keep sympy's solve in milliseconds: determined systems, one small nonlinear equation
        solutions = sympy.solve(equations, unknowns, dict=True)
        if not solutions or len(solutions) > 4:
            return []
        closer = {"R": "nra", "Z": "nia", "nat": "nia"}[domain]
        out: list[Proposal] = []
        for unknown in unknowns:
            values = {solution.get(unknown) for solution in solutions}
            if len(values) != 1:
                continue
            value = values.pop()
            if value is None or value.free_symbols or not value.is_real:
                continue
            if domain != "R" and not value.is_Integer:
                continue
            if domain == "nat" and value < 0:
                continue
            name = sympy_to_coq(unknown, domain)
            text = sympy_to_coq(value, domain)
            assertion = f"assert ({name} = {text}) by {closer}"
            out.append(Proposal(-0.7, f"{assertion}; subst {name}"))
            if domain == "R":
                out.append(Proposal(-1.2, f"assert ({name} = {text}) by (subst; nra); subst {name}"))
            else:
                out.append(Proposal(-1.2, f"assert ({name} = {text}) by lia; subst {name}"))
        return out

    def _factor(self, goal, facts, conclusion, domain: Domain, numbers: set[str]) -> list[Proposal]:
        import sympy

        if domain == "nat":
            return []
        out: list[Proposal] = []
        for name, term in facts:
            if term[1] != "=":
                continue
            difference = sympy.expand(to_sympy(term[2], domain) - to_sympy(term[3], domain))
            if not difference.free_symbols or difference.has(sympy.Function, sympy.Abs, sympy.floor, sympy.Mod):
                continue
            if len(difference.free_symbols) > 4 or len(sympy.Add.make_args(difference)) > 12:
                continue  # factoring big polynomials costs more than a step is worth
            _, factors = sympy.factor_list(difference)
            nonconstant = [factor for factor, multiplicity in factors for _ in range(multiplicity) if factor.free_symbols]
            if len(nonconstant) < 2:
                continue
            left = sympy_to_coq(nonconstant[0], domain)
            right = sympy_to_coq(sympy.Mul(*nonconstant[1:]), domain)
            split = "apply Rmult_integral in Hf" if domain == "R" else "apply Z.mul_eq_0 in Hf"
            closer = "nra" if domain == "R" else "nia"
            out.append(Proposal(-0.9, f"assert (Hf : {left} * {right} = 0) by {closer}; {split}; destruct Hf as [Hf | Hf]"))
        return out[:3]

    def _complete_square(self, goal, facts, conclusion, domain: Domain, numbers: set[str]) -> list[Proposal]:
        import sympy

        if conclusion is None or conclusion[0] != "rel" or conclusion[1] not in ("<", "<=", ">", ">=") or domain == "nat":
            return []
        slack = to_sympy(conclusion[3], domain) - to_sympy(conclusion[2], domain)
        if conclusion[1] in (">", ">="):
            slack = -slack
        # Substitute definitions `y = expr` from the hypotheses (a variable alone on one side).
        for _, term in facts:
            if term[1] == "=" and term[2][0] == "var" and term[2][1] in numbers:
                slack = slack.subs(sympy.Symbol(term[2][1]), to_sympy(term[3], domain))
        slack = sympy.expand(slack)
        if slack.has(sympy.Function, sympy.Abs, sympy.floor, sympy.Mod) or not slack.free_symbols:
            return []
        hints: list[str] = []
        for symbol in sorted(slack.free_symbols, key=str):
            poly = sympy.Poly(slack, symbol)
            if poly.degree() != 2:
                continue
            a, b = poly.coeff_monomial(symbol**2), poly.coeff_monomial(symbol)
            if a == 0:
                continue
            hint = sympy.expand(2 * a * symbol + b)
            _, content = sympy.factor_terms(hint).as_coeff_Mul()  # drop a constant factor
            hints.append(sympy_to_coq(content if content.free_symbols else hint, domain))
        if not hints:
            return []
        square = "pow2_ge_0" if domain == "R" else "Z.square_nonneg"
        closer = "nra" if domain == "R" else "nia"
        poses = "; ".join(f"pose proof ({square} {hint})" for hint in hints[:4])
        substitute = "subst; " if any(term[1] == "=" and term[2][0] == "var" for _, term in facts) else ""
        return [Proposal(-0.6, f"{poses}; {closer}"), Proposal(-1.0, f"{substitute}{poses}; {closer}")][: 2 if substitute else 1]

    def _field(self, goal, facts, conclusion, domain: Domain, numbers: set[str]) -> list[Proposal]:
        if domain != "R":
            return []
        denominators: list[str] = []
        terms = [term for _, term in facts] + ([conclusion] if conclusion is not None else [])
        for term in terms:
            for sub in subterms(term):
                denominator: Term | None = None
                if sub[0] == "bin" and sub[1] == "/":
                    denominator = sub[3]
                elif sub[0] == "inv":
                    denominator = sub[1]
                if denominator is not None and denominator[0] != "num":
                    text = to_coq(denominator)
                    if text not in denominators:
                        denominators.append(text)
        if not denominators:
            return []
        asserts = "; ".join(f"assert ({d} <> 0) by nra" for d in denominators[:4])
        out = [Proposal(-0.9, f"{asserts}; field_simplify; nra")]
        for name, term in facts:
            if any(sub[0] in ("bin", "inv") and (sub[0] == "inv" or sub[1] == "/") for sub in subterms(term)):
                out.append(Proposal(-1.0, f"{asserts}; field_simplify in {name}; solve [nra | auto]"))
                out.append(Proposal(-1.4, f"{asserts}; field_simplify in {name}"))
        if conclusion is not None and conclusion[0] == "rel" and conclusion[1] == "=":
            out.append(Proposal(-0.8, f"{asserts}; field_simplify_eq; nra"))
            out.append(Proposal(-1.3, f"{asserts}; field_simplify_eq; [nra | auto]"))
        return out

    def _definitions(self, goal: GoalView) -> list[Proposal]:
        """`rewrite !h` for each hypothesis `forall x .., f x .. = rhs` whose `f` the goal applies."""
        out: list[Proposal] = []
        for name, kind in goal.facts():
            term = goal.term(kind)
            if term is None or term[0] != "forall" or term[2][0] != "rel" or term[2][1] != "=":
                continue
            left = term[2][2]
            bound = [binder for binder, _ in term[1]]
            if left[0] != "app" or [arg for arg in left[2]] != [("var", b) for b in bound]:
                continue  # only definitions by a pattern of bare variables: rewriting them terminates
            if any(sub[0] == "app" and sub[1] == left[1] for sub in subterms(term[2][3])):
                continue  # a recursive equation: `rewrite !` would not terminate
            others = " ".join(k for n, k in goal.hypotheses if n != name and not k.startswith("forall"))
            if f"{left[1]} " in goal.conclusion or f"{left[1]} " in others:
                out.append(Proposal(-0.5, f"rewrite !{name}"))
                out.append(Proposal(-0.9, f"rewrite !{name} in *"))
        return out

    def _evaluate_roots(self, goal: GoalView) -> list[Proposal]:
        """`sqrt c = r` for closed `c` whose value is the square of a rational `r`, rewritten everywhere."""
        out: list[Proposal] = []
        seen: set[str] = set()
        terms = [goal.term(goal.conclusion), *(goal.term(kind) for _, kind in goal.facts())]
        for term in (t for t in terms if t is not None):
            for sub in subterms(term):
                if not (sub[0] == "app" and sub[1] in ("sqrt", "Rsqrt") and len(sub[2]) == 1):
                    continue
                radicand = sub[2][0]
                text = to_coq(radicand)
                if text in seen or variables(radicand) or any(s[0] == "app" for s in subterms(radicand)):
                    continue  # a nested root or function is evaluated once the inner one is
                seen.add(text)
                try:
                    value = evaluate(radicand, {}, "R")
                except Unreadable:
                    continue
                root = _rational_root(value) if isinstance(value, Fraction) else None
                if root is None:
                    continue
                number = f"({root.numerator} / {root.denominator})" if root.denominator != 1 else str(root.numerator)
                proof = f"replace ({text}) with ({number} * {number}) by lra; symmetry; apply sqrt_square; lra"
                in_goal = any(s == sub for s in subterms(terms[0])) if terms[0] is not None else False
                where = "" if in_goal else " in *"
                out.append(Proposal(-0.4, f"replace (sqrt ({text})) with ({number}){where} by ({proof})"))
        return out[:4]

    def _instances(self, goal: GoalView, domain: Domain) -> list[Proposal]:
        """Instances of universal hypotheses over one number: where an argument meets a needed constant,
        and at small points whose premises hold."""
        import sympy

        arith = "lra" if domain == "R" else "lia"
        closer = "nra" if domain == "R" else "nia"
        facts = [(name, goal.term(kind)) for name, kind in goal.facts()]
        definitions = {}  # function name -> hypothesis defining it by a pattern of bare variables
        for name, term in facts:
            if term is not None and term[0] == "forall" and term[2][0] == "rel" and term[2][1] == "=":
                left = term[2][2]
                if left[0] == "app" and list(left[2]) == [("var", b) for b, _ in term[1]]:
                    definitions[left[1]] = name
        wanted: dict[str, list[Term]] = {}  # function -> constant arguments applied elsewhere
        for term in [goal.term(goal.conclusion), *(t for _, t in facts)]:
            for sub in subterms(term) if term is not None and term[0] != "forall" else ():
                if sub[0] == "app" and len(sub[2]) == 1 and not variables(sub[2][0]):
                    wanted.setdefault(sub[1], []).append(sub[2][0])
        out: list[Proposal] = []
        for name, term in facts:
            if term is None or term[0] != "forall" or len(term[1]) != 1 or name in definitions.values():
                continue
            (bound, kind), body = term[1][0], term[2]
            if (kind or "").strip() not in ("R", "Z", "nat", ""):
                continue
            premises = body[1] if body[0] == "imp" else None
            conclusion = body[2] if body[0] == "imp" else body
            side = f" ltac:(repeat split; {arith})" if premises is not None else ""
            symbol = sympy.Symbol(bound)
            # Where the hypothesis's argument meets a constant the goal applies the function to, or 0 and 1.
            for sub in subterms(conclusion):
                if not (sub[0] == "app" and len(sub[2]) == 1 and variables(sub[2][0]) == {bound} and sub[2][0] != ("var", bound)):
                    continue
                function, argument = sub[1], sub[2][0]
                targets = wanted.get(function) or [("num", "0"), ("num", "1")]
                for target in targets[:3]:
                    try:
                        solutions = sympy.solve(sympy.Eq(to_sympy(argument, domain), to_sympy(target, domain)), symbol)
                    except Exception:  # noqa: BLE001 - not solvable in closed form
                        continue
                    if len(solutions) != 1 or not solutions[0].is_Rational or (domain != "R" and not solutions[0].is_Integer):
                        continue
                    if (domain == "nat" or (kind or "").strip() == "nat") and solutions[0] < 0:
                        continue
                    value = sympy_to_coq(solutions[0], domain)
                    instance = (
                        f"pose proof ({name} {value}{side}) as Hv; "
                        f"match type of Hv with context [{function} ?a] => replace a with ({to_coq(target)}) in Hv by {arith} end"
                    )
                    out.append(Proposal(-0.8, instance))
                    if function in definitions:
                        out.append(Proposal(-0.6, f"{instance}; rewrite !{definitions[function]} in *; {closer}"))
                break
            # Small points whose premises hold: identities in unknown coefficients need a few instances.
            points = []
            for candidate in (0, 1, 2, -1, 4):
                try:
                    if premises is not None and evaluate(premises, {bound: Fraction(candidate)}, domain) is not True:
                        continue
                except Unreadable:
                    pass
                points.append(candidate)
            unknowns = len(variables(goal.term(goal.conclusion) or ("num", "0")) - {bound}) or 1
            chosen = points[: min(3, max(2, unknowns))]
            if len(chosen) < 2:
                continue
            names = [f"Hi{index}" for index in range(len(chosen))]
            poses = "; ".join(
                f"pose proof ({name} {sympy_to_coq(sympy.Integer(v), domain)}{side}) as {h}" for v, h in zip(chosen, names)
            )
            if domain == "R" and any(sub[0] == "bin" and sub[1] == "/" for sub in subterms(conclusion)):
                simplify = "; ".join(f"field_simplify in {h}" for h in names)
                out.append(Proposal(-0.9, f"{poses}; {simplify}; repeat split; lra"))
            out.append(Proposal(-1.1, f"{poses}; repeat split; {closer}"))
        return out

    def _logarithms(self, goal: GoalView) -> list[Proposal]:
        """`LOG_RULES`, then `lra`, or `field` with `0 < ln b` for each literal `b > 1` under an `ln`."""
        text = " ".join([kind for _, kind in goal.hypotheses] + [goal.conclusion])
        if not re.search(r"\bln\b", text):
            return []
        bases: list[str] = []
        for term in (goal.term(t) for t in [goal.conclusion, *(kind for _, kind in goal.facts())]):
            for sub in subterms(term) if term is not None else ():
                if not (sub[0] == "app" and sub[1] == "ln" and len(sub[2]) == 1):
                    continue
                argument = sub[2][0]
                base = argument[2] if argument[0] == "bin" and argument[1] == "^" else argument
                if base[0] == "num" and Fraction(base[1]) > 1 and base[1] not in bases:
                    bases.append(base[1])
        positive = "".join(f"; pose proof (ln_increasing 1 {b} ltac:(lra) ltac:(lra))" for b in bases[:3])
        positive += "; rewrite ln_1 in *" if bases else ""
        out = [Proposal(-0.5, f"{LOG_RULES}; lra"), Proposal(-1.2, LOG_RULES)]
        if bases:
            out.append(Proposal(-0.6, f"{LOG_RULES}{positive}; field; lra"))
            out.append(Proposal(-0.9, f"{LOG_RULES}{positive}; nra"))
        return out


def _rational_root(value: Fraction) -> Fraction | None:
    """The nonnegative rational whose square is `value`, or None."""
    if value < 0:
        return None
    top, bottom = isqrt(value.numerator), isqrt(value.denominator)
    if top * top == value.numerator and bottom * bottom == value.denominator:
        return Fraction(top, bottom)
    return None
