"""Read the arithmetic of a printed Coq goal: a small, total parser from goal text to terms and sympy.

Coq prints goals with its notations (`x ^ 2 + 1 <= y`, `n mod 7 = 5`, `Rabs (x - 1) < 2`,
`0 < x < 5`, `~ x = 0`, `exists n : nat, ...`). This module turns such text into a tiny term tree
(nested tuples, so it hashes and caches), prints terms back as Coq text (fully parenthesised, so
they re-elaborate exactly), and converts terms to sympy expressions for computer algebra and for
evaluating candidates. Anything it does not understand raises `Unreadable`: the generators catch
it and propose nothing, so an odd goal never crashes a search.

Precedences follow Coq's standard notation levels (smaller binds tighter): application, `^` (30,
right), unary `-` and `/` (35), `*` `/` `mod` (40, left), `+` `-` (50, left), relations (70),
`~` (75), `/\\` (80, right), `\\/` (85, right), `<->` (95), `->` (99, right).
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import Literal, Union

__all__ = [
    "Unreadable",
    "Term",
    "Domain",
    "parse_term",
    "to_coq",
    "to_sympy",
    "variables",
    "subterms",
    "evaluate",
    "RELATIONS",
]

Term = Union[tuple, str]
Domain = Literal["R", "Z", "nat"]
RELATIONS = ("=", "<>", "<", "<=", ">", ">=")


class Unreadable(ValueError):
    """The text is not arithmetic this module reads (the caller proposes nothing for it)."""


_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<scope>%\w+)"
    r"|(?P<ident>[^\W\d][\w']*(?:\.[^\W\d][\w']*)*)"
    r"|(?P<op><->|->|<=|>=|<>|/\\|\\/|=\?|<=\?|<\?|[-+*/^=<>~(),:|])"
    r")"
)
_MAX_TOKENS = 400  # goals longer than this are not arithmetic a generator should touch

_INFIX: dict[str, tuple[int, str]] = {  # token -> (level, associativity)
    "^": (30, "right"),
    "*": (40, "left"),
    "/": (40, "left"),
    "mod": (40, "left"),
    "+": (50, "left"),
    "-": (50, "left"),
    "/\\": (80, "right"),
    "\\/": (85, "right"),
    "<->": (95, "none"),
    "->": (99, "right"),
}
_RELATION_LEVEL = 70
_KEYWORDS = {"mod", "exists", "forall", "fun", "let", "in", "if", "then", "else", "match", "with", "end"}


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise Unreadable(f"unexpected text at {text[position:position + 10]!r}")
        position = match.end()
        if match.group("scope"):
            continue  # `%R`, `%Z`, `%nat`: the domain comes from the variables' types
        token = match.group(0).strip()
        if token:
            tokens.append(token)
        if len(tokens) > _MAX_TOKENS:
            raise Unreadable("too long")
    return tokens


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise Unreadable(f"expected {expected or 'more'}, found {token!r}")
        self.index += 1
        return token

    def parse(self, max_level: int = 200) -> Term:
        left = self.prefix(max_level)
        while True:
            token = self.peek()
            if token is None or token in (")", ",", ":", "|"):
                return left
            if token in RELATIONS:
                if _RELATION_LEVEL > max_level:
                    return left
                self.take()
                right = self.parse(_RELATION_LEVEL - 1)
                relation: Term = ("rel", token, left, right)
                # `a < b < c` (and `a <= b < c`, ...) is Coq's notation for a conjunction.
                while self.peek() in RELATIONS:
                    op = self.take()
                    third = self.parse(_RELATION_LEVEL - 1)
                    relation = ("and", relation, ("rel", op, right, third))
                    right = third
                left = relation
                continue
            if token not in _INFIX:
                raise Unreadable(f"unexpected {token!r}")
            level, assoc = _INFIX[token]
            if level > max_level:
                return left
            self.take()
            right = self.parse(level if assoc == "right" else level - 1)
            if token == "/\\":
                left = ("and", left, right)
            elif token == "\\/":
                left = ("or", left, right)
            elif token == "->":
                left = ("imp", left, right)
            elif token == "<->":
                left = ("iff", left, right)
            else:
                left = ("bin", token, left, right)

    def prefix(self, max_level: int) -> Term:
        token = self.take()
        if token == "(":
            inner = self.parse(200)
            if self.peek() == "|":  # `(k | e)`: divisibility, in whichever number type
                self.take("|")
                multiple = self.parse(200)
                self.take(")")
                return ("app", "divide", (inner, multiple))
            self.take(")")
            return self.applied(inner)
        if token == "-":
            return ("neg", self.parse(35))
        if token == "/":
            return ("inv", self.parse(35))
        if token == "~":
            return ("not", self.parse(75))
        if token in ("exists", "forall"):
            names = self.binders()
            self.take(",")
            return (token, tuple(names), self.parse(200))
        if re.fullmatch(r"\d+(?:\.\d+)?", token):
            return ("num", token)
        if token in _KEYWORDS or not re.match(r"[^\W\d]", token):
            raise Unreadable(f"unexpected {token!r}")
        return self.applied(("var", token))

    def binders(self) -> list[tuple[str, str | None]]:
        """`x y : T`, `(x : T) (y : U)` or `x y`: the names with their types as text (None when absent)."""
        names: list[tuple[str, str | None]] = []
        while self.peek() not in (",", None):
            if self.peek() == "(":
                self.take("(")
                group = []
                while self.peek() not in (":", ")"):
                    group.append(self.take())
                kind = None
                if self.peek() == ":":
                    self.take(":")
                    kind = self._type_text()
                self.take(")")
                names.extend((name, kind) for name in group)
            elif self.peek() == ":":
                self.take(":")
                kind = self._type_text()
                names = [(name, kind) for name, _ in names]
            else:
                names.append((self.take(), None))
        if not names or not all(re.fullmatch(r"[^\W\d][\w']*", name) for name, _ in names):
            raise Unreadable("bad binders")
        return names

    def _type_text(self) -> str:
        parts = []
        depth = 0
        while self.peek() is not None and not (depth == 0 and self.peek() in (",", ")")):
            token = self.take()
            depth += token == "("
            depth -= token == ")"
            parts.append(token)
        return " ".join(parts)

    def applied(self, head: Term) -> Term:
        """`f x (y + 1)`: application binds tighter than every operator."""
        args: list[Term] = []
        while True:
            token = self.peek()
            if token is None:
                break
            if token == "(":
                self.take()
                inner = self.parse(200)
                self.take(")")
                args.append(inner)
            elif re.fullmatch(r"\d+(?:\.\d+)?", token):
                self.take()
                args.append(("num", token))
            elif re.match(r"[^\W\d]", token) and token not in _KEYWORDS:
                self.take()
                args.append(("var", token))
            else:
                break
        if not args:
            return head
        if head[0] == "var":
            return ("app", head[1], tuple(args))
        if head[0] == "app":
            return ("app", head[1], head[2] + tuple(args))
        raise Unreadable("application of a compound term")


@lru_cache(maxsize=4096)
def parse_term(text: str) -> Term:
    """The term (proposition or expression) that `text` writes; raises `Unreadable`."""
    parser = _Parser(_tokens(text))
    term = parser.parse(200)
    if parser.peek() is not None:
        raise Unreadable(f"trailing {parser.peek()!r}")
    return term


_PRINT_OPS = {"mod": " mod "}


def to_coq(term: Term) -> str:
    """Coq text for `term`, fully parenthesised (so it means the same under any notation levels)."""
    kind = term[0]
    if kind == "num":
        return term[1]
    if kind == "var":
        return term[1]
    if kind == "app":
        if term[1] == "divide" and len(term[2]) == 2:
            return f"({to_coq(term[2][0])} | {to_coq(term[2][1])})"
        return f"({term[1]} " + " ".join(to_coq(arg) for arg in term[2]) + ")"
    if kind == "bin":
        op = _PRINT_OPS.get(term[1], f" {term[1]} ")
        return f"({to_coq(term[2])}{op}{to_coq(term[3])})"
    if kind == "neg":
        return f"(- {to_coq(term[1])})"
    if kind == "inv":
        return f"(/ {to_coq(term[1])})"
    if kind == "rel":
        return f"{to_coq(term[2])} {term[1]} {to_coq(term[3])}"
    if kind in ("and", "or", "imp", "iff"):
        op = {"and": "/\\", "or": "\\/", "imp": "->", "iff": "<->"}[kind]
        return f"({to_coq(term[1])} {op} {to_coq(term[2])})"
    if kind == "not":
        return f"~ ({to_coq(term[1])})"
    raise Unreadable(f"cannot print {kind}")


def variables(term: Term) -> set[str]:
    """Names used as variables (not applied as functions) in `term`."""
    if not isinstance(term, tuple):
        return set()
    if term[0] == "var":
        return {term[1]}
    if term[0] in ("exists", "forall"):
        bound = {name for name, _ in term[1]}
        return variables(term[2]) - bound
    if term[0] == "app":
        return set().union(*(variables(arg) for arg in term[2]))
    return set().union(set(), *(variables(part) for part in term[1:] if isinstance(part, tuple)))


def subterms(term: Term):
    """Every subterm of `term`, outermost first."""
    yield term
    if term[0] == "app":
        for arg in term[2]:
            yield from subterms(arg)
    elif term[0] in ("exists", "forall"):
        yield from subterms(term[2])
    else:
        for part in term[1:]:
            if isinstance(part, tuple):
                yield from subterms(part)


# Functions whose value is the argument's (casts between number types) and known functions.
_CASTS = {"INR", "IZR", "Z.of_nat", "Z.of_N", "N.of_nat", "Q2R", "inject_Z", "Z_of_nat"}
_POWERS = {"pow", "Z.pow", "Nat.pow", "Rpower", "N.pow"}
_MODS = {"Z.modulo", "Nat.modulo", "Nat.mod", "Z.mod", "modulo"}
_DIVS = {"Z.div", "Nat.div"}
_GCDS = {"Nat.gcd", "Z.gcd", "gcd"}
_BINARY = {"Z.add": "+", "Z.mul": "*", "Z.sub": "-", "Nat.add": "+", "Nat.mul": "*", "Rplus": "+", "Rmult": "*", "Rminus": "-", "plus": "+", "mult": "*"}


def to_sympy(term: Term, domain: Domain):
    """A sympy expression (or relation) for `term`; integer `/` is floor division. Raises `Unreadable`."""
    import sympy

    return _to_sympy(term, domain, sympy)


def _symbol(name: str, sympy):
    return sympy.Symbol(name.replace("'", "_prime_").replace(".", "__"))


def _to_sympy(term: Term, domain: Domain, sympy):
    kind = term[0]
    if kind == "num":
        return sympy.Rational(Fraction(term[1]))
    if kind == "var":
        if term[1] == "PI":
            return sympy.pi
        return _symbol(term[1], sympy)
    if kind == "neg":
        return -_to_sympy(term[1], domain, sympy)
    if kind == "inv":
        if domain != "R":
            raise Unreadable("inverse outside R")
        return 1 / _to_sympy(term[1], domain, sympy)
    if kind == "bin":
        op, left, right = term[1], _to_sympy(term[2], domain, sympy), _to_sympy(term[3], domain, sympy)
        return _binary(op, left, right, domain, sympy)
    if kind == "app":
        name, args = term[1], [_to_sympy(arg, domain, sympy) for arg in term[2]]
        if name in _CASTS and len(args) == 1:
            return args[0]
        if name in _POWERS and len(args) == 2:
            return _binary("^", args[0], args[1], domain, sympy)
        if name in _MODS and len(args) == 2:
            return _binary("mod", args[0], args[1], domain, sympy)
        if name in _DIVS and len(args) == 2:
            return _binary("/", args[0], args[1], domain, sympy)
        if name in _BINARY and len(args) == 2:
            return _binary(_BINARY[name], args[0], args[1], domain, sympy)
        if name in _GCDS and len(args) == 2:
            return sympy.gcd(args[0], args[1]) if all(a.is_Integer for a in args) else sympy.Function("gcd")(*args)
        if name in ("Rabs", "Z.abs") and len(args) == 1:
            return sympy.Abs(args[0])
        if name in ("sqrt", "Rsqrt") and len(args) == 1:
            return sympy.sqrt(args[0])
        if name == "Rsqr" and len(args) == 1:
            return args[0] ** 2
        if name == "S" and len(args) == 1:
            return args[0] + 1
        if name == "fact" and len(args) == 1:
            return sympy.factorial(args[0])
        if name in ("exp", "ln", "sin", "cos", "tan") and len(args) == 1:
            return {"exp": sympy.exp, "ln": sympy.log, "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan}[name](args[0])
        return sympy.Function(name.replace(".", "__").replace("'", "_prime_"))(*args)
    if kind == "rel":
        left, right = _to_sympy(term[2], domain, sympy), _to_sympy(term[3], domain, sympy)
        return {
            "=": sympy.Eq, "<>": sympy.Ne, "<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt, ">=": sympy.Ge,
        }[term[1]](left, right, evaluate=False)
    if kind in ("and", "or"):
        parts = [_to_sympy(term[1], domain, sympy), _to_sympy(term[2], domain, sympy)]
        return sympy.And(*parts, evaluate=False) if kind == "and" else sympy.Or(*parts, evaluate=False)
    if kind == "not":
        return sympy.Not(_to_sympy(term[1], domain, sympy))
    raise Unreadable(f"no sympy form for {kind}")


def _binary(op: str, left, right, domain: Domain, sympy):
    if op == "+":
        return left + right
    if op == "*":
        return left * right
    if op == "-":
        if domain == "nat":
            return sympy.Max(left - right, 0)  # truncated subtraction
        return left - right
    if op == "^":
        return left**right
    if op == "/":
        return left / right if domain == "R" else sympy.floor(left / right)
    if op == "mod":
        return sympy.Mod(left, right)
    raise Unreadable(f"operator {op}")


_MAX_MAGNITUDE = 10**60  # an evaluation that grows past this is not a small computation


def evaluate(term: Term, values: dict[str, Fraction | int], domain: Domain) -> Fraction | bool:
    """The exact value of `term` with `values` for its variables (Fractions; integers in Z/nat).

    Plain Python arithmetic, no sympy: used to test thousands of candidate witnesses per goal.
    Raises `Unreadable` for anything it cannot compute exactly (sqrt, unknown functions, huge powers).
    """
    kind = term[0]
    if kind == "num":
        value = Fraction(term[1])
        if domain != "R" and value.denominator != 1:
            raise Unreadable("a decimal in an integer domain")
        return value
    if kind == "var":
        if term[1] not in values:
            raise Unreadable(f"no value for {term[1]}")
        return Fraction(values[term[1]])
    if kind == "neg":
        return -_number(evaluate(term[1], values, domain))
    if kind == "inv":
        value = _number(evaluate(term[1], values, domain))
        if value == 0:
            return Fraction(0)  # Coq's / 0 is 0
        return 1 / value
    if kind == "bin":
        return _evaluate_binary(term[1], _number(evaluate(term[2], values, domain)), _number(evaluate(term[3], values, domain)), domain)
    if kind == "app":
        name, args = term[1], [_number(evaluate(arg, values, domain)) for arg in term[2]]
        if name in _CASTS and len(args) == 1:
            return args[0]
        if name in _POWERS and len(args) == 2:
            return _evaluate_binary("^", args[0], args[1], domain)
        if name in _MODS and len(args) == 2:
            return _evaluate_binary("mod", args[0], args[1], domain)
        if name in _DIVS and len(args) == 2:
            return _evaluate_binary("/", args[0], args[1], domain)
        if name in _BINARY and len(args) == 2:
            return _evaluate_binary(_BINARY[name], args[0], args[1], domain)
        if name in ("Rabs", "Z.abs") and len(args) == 1:
            return abs(args[0])
        if name == "S" and len(args) == 1:
            return args[0] + 1
        if name in _GCDS and len(args) == 2 and all(a.denominator == 1 for a in args):
            import math

            return Fraction(math.gcd(int(args[0]), int(args[1])))
        raise Unreadable(f"cannot evaluate {name}")
    if kind == "rel":
        left, right = _number(evaluate(term[2], values, domain)), _number(evaluate(term[3], values, domain))
        return {"=": left == right, "<>": left != right, "<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[term[1]]
    if kind in ("and", "or", "imp", "iff"):
        left = _truth(evaluate(term[1], values, domain))
        right = _truth(evaluate(term[2], values, domain))
        return {"and": left and right, "or": left or right, "imp": (not left) or right, "iff": left == right}[kind]
    if kind == "not":
        return not _truth(evaluate(term[1], values, domain))
    raise Unreadable(f"cannot evaluate {kind}")


def _number(value: Fraction | bool) -> Fraction:
    if isinstance(value, bool):
        raise Unreadable("a proposition where a number was expected")
    return value


def _truth(value: Fraction | bool) -> bool:
    if not isinstance(value, bool):
        raise Unreadable("a number where a proposition was expected")
    return value


def _evaluate_binary(op: str, left: Fraction, right: Fraction, domain: Domain) -> Fraction:
    if op == "+":
        result = left + right
    elif op == "*":
        result = left * right
    elif op == "-":
        result = max(left - right, Fraction(0)) if domain == "nat" else left - right
    elif op == "^":
        if right.denominator != 1 or right < 0 or right > 4096:
            raise Unreadable("a power that is not a small natural number")
        if abs(left) > 1 and int(right) * max(abs(left.numerator), abs(left.denominator)).bit_length() > 400:
            raise Unreadable("too large")
        result = left ** int(right)
    elif op == "/":
        if right == 0:
            return Fraction(0)  # Coq: x / 0 = 0 in R (Rinv 0 = 0 by convention), Z and nat
        result = left / right if domain == "R" else Fraction((left / right).__floor__())
    elif op == "mod":
        if right == 0:
            return left  # Coq: x mod 0 = x (Z and nat)
        if left.denominator != 1 or right.denominator != 1:
            raise Unreadable("mod of non-integers")
        result = Fraction(int(left) % int(right))
    else:
        raise Unreadable(f"operator {op}")
    if abs(result.numerator) > _MAX_MAGNITUDE or result.denominator > _MAX_MAGNITUDE:
        raise Unreadable("too large")
    return result
