"""Rule expressions: durations, a tokenizer and a recursive-descent parser into a small AST (no eval)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


class ExprError(ValueError):
    """A malformed expression or duration; the message gives the position."""


def parse_duration(text: str | int | float) -> float:
    """'90s', '30m', '1.5h', '3d', '1w' (or a bare number of seconds) -> seconds."""
    if isinstance(text, bool):
        raise ExprError(f"bad duration {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise ExprError(f"bad duration {text!r}: negative")
        return float(text)
    m = _DURATION.match(str(text))
    if not m:
        raise ExprError(f"bad duration {text!r}; use a number and s, m, h, d or w, e.g. 30m, 1h, 3d")
    return float(m.group(1)) * _UNITS[m.group(2)]


# ---- AST ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Num:
    value: float


@dataclass(frozen=True, slots=True)
class Dur:
    seconds: float


@dataclass(frozen=True, slots=True)
class Str:
    value: str


@dataclass(frozen=True, slots=True)
class Name:
    name: str


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node], ...] = ()


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Node


@dataclass(frozen=True, slots=True)
class Arith:
    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Cmp:
    op: str  # >= > <= < == !=
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # and / or
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


Node = Num | Dur | Str | Name | Call | Neg | Arith | Cmp | BoolOp | Not | Const

# ---- tokenizer ------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<dur>\d+(?:\.\d+)?[smhdw])(?![A-Za-z0-9_])
    | (?P<num>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<str>"[^"]*"|'[^']*')
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>>=|<=|==|!=|[<>()+\-*/,=])
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "true", "false"}


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExprError(f"unexpected character {text[pos:].strip()[:1]!r} at column {pos + 1}")
        group = m.lastgroup or ""
        value = m.group(group)
        kind = value if group == "name" and value in _KEYWORDS else group
        tokens.append((kind, value, m.start(group) + 1))
        pos = m.end()
    tokens.append(("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, str, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        kind, got, col = self.take()
        if got != value or kind == "str":
            raise ExprError(f"expected {value!r} at column {col}, got {got or 'end of expression'!r}")

    def parse(self) -> Node:
        node = self.or_()
        kind, got, col = self.peek()
        if kind != "end":
            raise ExprError(f"unexpected {got!r} at column {col}")
        return node

    def or_(self) -> Node:
        parts = [self.and_()]
        while self.peek()[0] == "or":
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def and_(self) -> Node:
        parts = [self.not_()]
        while self.peek()[0] == "and":
            self.take()
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def not_(self) -> Node:
        if self.peek()[0] == "not":
            self.take()
            return Not(self.not_())
        return self.cmp()

    def cmp(self) -> Node:
        left = self.arith()
        kind, op, _ = self.peek()
        if kind == "op" and op in (">=", ">", "<=", "<", "==", "!="):
            self.take()
            return Cmp(op, left, self.arith())
        return left

    def arith(self) -> Node:
        node = self.term()
        while self.peek()[0] == "op" and self.peek()[1] in "+-":
            op = self.take()[1]
            node = Arith(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in "*/":
            op = self.take()[1]
            node = Arith(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek()[:2] == ("op", "-"):
            self.take()
            return Neg(self.unary())
        return self.atom()

    def atom(self) -> Node:
        kind, value, col = self.take()
        if kind == "num":
            return Num(float(value))
        if kind == "dur":
            return Dur(parse_duration(value))
        if kind == "str":
            return Str(value[1:-1])
        if kind in ("true", "false"):
            return Const(kind == "true")
        if kind == "op" and value == "(":
            node = self.or_()
            self.expect(")")
            return node
        if kind == "name":
            if self.peek()[:2] == ("op", "("):
                self.take()
                return self.call(value)
            return Name(value)
        raise ExprError(f"unexpected {value or 'end of expression'!r} at column {col}")

    def call(self, func: str) -> Call:
        args: list[Node] = []
        kwargs: list[tuple[str, Node]] = []
        if self.peek()[:2] == ("op", ")"):
            self.take()
            return Call(func, ())
        while True:
            kind, value, col = self.peek()
            if kind == "name" and self.tokens[self.i + 1][:2] == ("op", "="):
                self.i += 2
                kwargs.append((value, self.or_()))
            elif kwargs:
                raise ExprError(f"positional argument after keyword argument at column {col}")
            else:
                args.append(self.or_())
            kind, value, col = self.take()
            if (kind, value) == ("op", ")"):
                return Call(func, tuple(args), tuple(kwargs))
            if (kind, value) != ("op", ","):
                raise ExprError(f"expected ',' or ')' at column {col}, got {value or 'end'!r}")


def parse_expr(text: str) -> Node:
    """Parse one rule expression; raise ExprError naming the column on bad syntax."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError("empty expression")
    return _Parser(text).parse()


def names_in(node: Node) -> set[str]:
    """Every bare name the expression refers to (inputs or named values)."""
    if isinstance(node, Name):
        return {node.name}
    out: set[str] = set()
    if isinstance(node, Call):
        for a in node.args:
            out |= names_in(a)
        for _, a in node.kwargs:
            out |= names_in(a)
    elif isinstance(node, Neg | Not):
        out |= names_in(node.operand)
    elif isinstance(node, Arith | Cmp):
        out |= names_in(node.left) | names_in(node.right)
    elif isinstance(node, BoolOp):
        for a in node.operands:
            out |= names_in(a)
    return out
