"""Go's ``encoding/json`` as far as Ollama's answers show it: the decoder's errors (syntax, type, the
first value only), a Go struct's field names and types, ``%q`` quoting, and the encoder's bytes. The
Ollama fake's native routes and its OpenAI-, Responses- and Anthropic-compatible layers all read their
bodies through it, so a body Ollama's Go would refuse is refused with Go's own words."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ._embeddings import _f32, _shortest
from ._jsonenc import _default, _encoder, compact_utf8


class GoError(Exception):
    """A message Go would return (the request is refused with it)."""


class _Num(float):
    """A JSON number with a fraction or exponent, keeping its literal (Go quotes it: ``number 1.5``)."""

    literal: str

    def __new__(cls, literal: str) -> _Num:
        n = super().__new__(cls, literal)
        n.literal = literal
        return n


def _quote_char(c: int) -> str:
    """Go's ``quoteChar``: how the scanner names the byte it refuses."""
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    named = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v", 0x5C: "\\\\"}
    if c in named:
        return f"'{named[c]}'"
    if c < 0x20 or c == 0x7F:
        return f"'\\x{c:02x}'"
    if 0x80 <= c < 0xA0 or c == 0xAD:
        return f"'\\u{c:04x}'"
    return f"'{chr(c)}'"


_WS = b" \t\r\n"
_MAX_DEPTH = 10_000
"""Go's ``maxNestingDepth`` (encoding/json/scanner.go): the scanner refuses the container that opens past it."""
_PY_DEPTH = 500
"""Deeper than this, Python's ``json`` (recursive, bounded by the interpreter's recursion limit) may not hold
the value: such a body is refused with Go's max-depth error at the container that opens past this depth,
the one place the fake is stricter than Go (which reads up to 10,000 levels)."""


class Scan:
    """Go's JSON scanner over bytes: the first value's end, or Go's syntax error for it."""

    def __init__(self, data: bytes) -> None:
        self.d, self.i = data, 0
        self.deep_at = -1

    def bad(self, context: str) -> GoError:
        return GoError(f"invalid character {_quote_char(self.d[self.i])} {context}")

    def ws(self) -> None:
        while self.i < len(self.d) and self.d[self.i] in _WS:
            self.i += 1

    def more(self) -> int:
        if self.i >= len(self.d):
            raise EOFError
        return self.d[self.i]

    def value(self, top: bool = False) -> None:
        """Scan one value. Iterative, with a stack of the open containers (Go's ``parseState``), so any
        depth is scanned without recursion, and the container past ``maxNestingDepth`` is Go's error
        ``invalid character '[' exceeded max depth``. ``deep_at``: where the first container deeper than
        :data:`_PY_DEPTH` opens (-1: none), for :func:`_loads`' refusal of what Python cannot hold."""
        stack = bytearray()  # the open containers' opening bytes, outermost first
        while True:
            self.ws()
            c = self.more()
            if c == 0x7B or c == 0x5B:  # { or [
                if len(stack) >= _MAX_DEPTH:
                    raise self.bad("exceeded max depth")
                if len(stack) == _PY_DEPTH and self.deep_at < 0:
                    self.deep_at = self.i
                self.i += 1
                self.ws()
                if self.more() == (0x7D if c == 0x7B else 0x5D):
                    self.i += 1  # an empty container: a whole value
                else:
                    stack.append(c)
                    if c == 0x7B:
                        self._key()
                    continue  # the first member's or element's value
            elif c == 0x22:
                self.string()
            elif c == 0x2D or 0x30 <= c <= 0x39:
                self.number(top and not stack)
            elif c in b"tfn":
                word = {0x74: b"true", 0x66: b"false", 0x6E: b"null"}[c]
                self.i += 1
                for expected in word[1:]:
                    if self.more() != expected:
                        raise self.bad(f"in literal {word.decode()} (expecting {_quote_char(expected)})")
                    self.i += 1
            else:
                raise self.bad("looking for beginning of value")
            # a value is complete: close every container it completes, or go on to the next value
            while stack:
                self.ws()
                c = self.more()
                if stack[-1] == 0x7B:
                    if c == 0x7D:
                        self.i += 1
                        stack.pop()
                        continue
                    if c != 0x2C:
                        raise self.bad("after object key:value pair")
                    self.i += 1
                    self._key()
                else:
                    if c == 0x5D:
                        self.i += 1
                        stack.pop()
                        continue
                    if c != 0x2C:
                        raise self.bad("after array element")
                    self.i += 1
                break
            else:
                return

    def _key(self) -> None:
        """An object member's key and colon (the value follows)."""
        self.ws()
        if self.more() != 0x22:
            raise self.bad("looking for beginning of object key string")
        self.string()
        self.ws()
        if self.more() != 0x3A:
            raise self.bad("after object key")
        self.i += 1

    def string(self) -> None:
        self.i += 1
        while True:
            c = self.more()
            if c == 0x22:
                self.i += 1
                return
            if c == 0x5C:
                self.i += 1
                e = self.more()
                if e == 0x75:
                    self.i += 1
                    for _ in range(4):
                        if self.more() not in b"0123456789abcdefABCDEF":
                            raise self.bad("in \\u hexadecimal character escape")
                        self.i += 1
                    continue
                if e not in b'bfnrt\\/"':
                    raise self.bad("in string escape code")
            elif c < 0x20:
                raise self.bad("in string literal")
            self.i += 1

    def number(self, top: bool) -> None:
        def digits() -> None:
            while self.i < len(self.d) and 0x30 <= self.d[self.i] <= 0x39:
                self.i += 1

        def need_digit(context: str) -> None:
            if self.i >= len(self.d) and top:
                raise EOFError
            if not 0x30 <= self.more() <= 0x39:
                raise self.bad(context)

        if self.d[self.i] == 0x2D:
            self.i += 1
            need_digit("in numeric literal")
        if self.d[self.i] == 0x30:
            self.i += 1
        else:
            digits()
        if self.i < len(self.d) and self.d[self.i] == 0x2E:
            self.i += 1
            need_digit("after decimal point in numeric literal")
            digits()
        if self.i < len(self.d) and self.d[self.i] in b"eE":
            self.i += 1
            if self.i < len(self.d) and self.d[self.i] in b"+-":
                self.i += 1
            need_digit("in exponent of numeric literal")
            digits()


def _loads(data: bytes) -> Any:
    return json.loads(data.decode("utf-8", "replace"), parse_float=_Num)


def _held(s: Scan) -> None:
    """Refuse a scanned value Python cannot hold (see :data:`_PY_DEPTH`) with Go's max-depth error."""
    if s.deep_at >= 0:
        raise GoError(f"invalid character {_quote_char(s.d[s.deep_at])} exceeded max depth")


def decode_body(raw: bytes) -> Any:
    """What ``json.NewDecoder(body).Decode`` (gin's ``ShouldBindJSON``) reads: the first JSON value
    (anything after it is never read), ``EOF`` for an empty body, ``unexpected EOF`` for a cut one."""
    s = Scan(raw)
    s.ws()
    if s.i >= len(raw):
        raise GoError("EOF")
    start = s.i
    try:
        s.value(top=True)
    except EOFError:
        raise GoError("unexpected EOF") from None
    _held(s)
    return _loads(raw[start:s.i])


def unmarshal(data: str) -> Any:
    """What ``json.Unmarshal`` reads: exactly one JSON value, or its syntax error."""
    raw = data.encode()
    s = Scan(raw)
    try:
        s.value(top=True)
        s.ws()
    except EOFError:
        raise GoError("unexpected end of JSON input") from None
    if s.i < len(raw):
        raise s.bad("after top-level value")
    _held(s)
    return _loads(raw)


def go_type_name(v: Any) -> str:
    """Go's ``%T`` (``reflect.TypeOf``) of a decoded JSON value held in an ``any``: a number is a float64."""
    if v is None:
        return "<nil>"
    return {bool: "bool", str: "string", list: "[]interface {}", dict: "map[string]interface {}"}.get(type(v), "float64")


def json_kind(v: Any) -> str:
    return ("bool" if isinstance(v, bool) else "number" if isinstance(v, int | float) else "string"
            if isinstance(v, str) else "array" if isinstance(v, list) else "object")


@dataclass
class GoStruct:
    """A Go struct type: ``name`` as errors name it (``""`` for an anonymous one), ``go`` its type string."""

    name: str
    go: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GoList:
    elem: Any
    go: str


ANY = "any"  # json.RawMessage, interface{}: anything goes
MAP = "map[string]interface {}"


def _go_type(spec: Any) -> str:
    return spec.go if isinstance(spec, GoStruct | GoList) else str(spec)


class Decoder:
    """``json.Unmarshal`` into a Go type: the value with Go's field names (keys matched case-insensitively,
    the last one winning, unknown ones dropped, ``null`` leaving the zero value), and Go's first type
    error (Go keeps decoding after one and returns the first)."""

    def __init__(self) -> None:
        self.error: str | None = None

    def fail(self, v: Any, spec: Any, struct: str, path: tuple[str, ...], value: str | None = None) -> None:
        if self.error is None:
            got = value or json_kind(v)
            where = f"Go struct field {struct}.{'.'.join(path)}" if path else "Go value"
            self.error = f"json: cannot unmarshal {got} into {where} of type {_go_type(spec)}"

    def decode(self, v: Any, spec: Any, struct: str = "", path: tuple[str, ...] = ()) -> Any:
        if v is None or spec == ANY:
            return v
        if isinstance(spec, GoStruct):
            if not isinstance(v, dict):
                return self.fail(v, spec, struct, path)
            out: dict[str, Any] = {}
            folded = {k.lower(): k for k in spec.fields}
            for key, value in v.items():
                name = key if key in spec.fields else folded.get(key.lower())
                if name is None:
                    continue
                sub = spec.fields[name]
                if value is None:
                    if sub == ANY:
                        out[name] = None
                    else:
                        out.pop(name, None)
                    continue
                decoded = self.decode(value, sub, spec.name, (*path, name))
                if decoded is not None:
                    out[name] = decoded
            return out
        if isinstance(spec, GoList):
            if not isinstance(v, list):
                return self.fail(v, spec, struct, path)
            return [x for x in (self.decode(e, spec.elem, struct, path) for e in v) if x is not None]
        ok = {"string": isinstance(v, str), "bool": isinstance(v, bool), MAP: isinstance(v, dict),
              "float64": isinstance(v, int | float) and not isinstance(v, bool) and abs(v) != float("inf"),
              "float32": isinstance(v, int | float) and not isinstance(v, bool) and abs(v) <= 3.4028234663852886e38,
              "int": isinstance(v, int) and not isinstance(v, bool)}[spec]
        if ok:
            return v
        literal = getattr(v, "literal", repr(v)) if isinstance(v, float) else None
        number = spec in ("int", "float64", "float32") and literal
        return self.fail(v, spec, struct, path, f"number {literal}" if number else None)


def read_request(raw: bytes, spec: GoStruct, readers: Callable[[dict[str, Any]], str | None] | None = None
                 ) -> dict[str, Any]:
    """``ShouldBindJSON(&req)`` into ``spec``: the request (Go's field names, nulls dropped), or the
    :class:`GoError` Go returns — a syntax error, ``EOF`` for an empty body, a non-object, the first type
    error. ``readers``: the errors of the type's own ``UnmarshalJSON`` methods, which stop the decoding
    (so they win over any type error)."""
    body = decode_body(raw)
    if body is not None and not isinstance(body, dict):
        raise GoError(f"json: cannot unmarshal {json_kind(body)} into Go value of type {spec.go}")
    problem = readers(body or {}) if readers is not None else None
    if problem is not None:
        raise GoError(problem)
    d = Decoder()
    req: dict[str, Any] = d.decode(body or {}, spec)
    if d.error is not None:
        raise GoError(d.error)
    return req


def strict_decode(v: Any, spec: Any) -> Any:
    d = Decoder()
    out = d.decode(v, spec)
    if d.error is not None:
        raise GoError(d.error)
    return out


def anon(*names: str) -> GoStruct:
    tags = "; ".join(f'{n.title().replace("_", "")} string "json:\\"{n}\\""' for n in names)
    return GoStruct("", f"struct {{ {tags} }}", dict.fromkeys(names, "string"))


S = "string"
# buger/jsonparser's ObjectEach (under wk8/go-ordered-map's UnmarshalJSON) on anything but an object
NOT_AN_OBJECT = "Value looks like object, but can't find closing '}' symbol"


def go_quote(s: str) -> str:
    """Go's ``%q`` for the strings these messages quote."""
    body = json.dumps(s, ensure_ascii=False)[1:-1]
    return '"' + body.replace("\\u007f", "\\x7f") + '"'


_HTML = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})
_SURROGATE = re.compile("[\ud800-\udfff]")


def go_float(x: float, bits: int = 64) -> str:
    """Go's ``encoding/json`` text of a float64 (``bits=64``) or of ``x`` as a float32 (``bits=32``):
    the shortest digits that read back as the same value, positional for 1e-6 <= |x| < 1e21 (``1``, not
    ``1.0``; ``0.00001``, not ``1e-05``), else ``1e-7``/``1e+21`` (``floatEncoder.encode``).

    >>> [go_float(x) for x in (1.0, 0.00001, 1e-7, 1e21, 1e20, -0.0, 0.1 + 0.2)]
    ['1', '0.00001', '1e-7', '1e+21', '100000000000000000000', '-0', '0.30000000000000004']
    >>> [go_float(x, 32) for x in (0.1, 123456789.0, 3.4028234663852886e38, 1e-7)]
    ['0.1', '123456790', '3.4028235e+38', '1e-7']
    """
    if bits == 32:
        x = _f32(x)
        shortest = repr(_shortest(x))  # the fewest digits that read back as the float32
    else:
        shortest = repr(x)
    d = Decimal(shortest).normalize()
    if x == 0:
        return "-0" if str(d).startswith("-") else "0"
    if 1e-6 <= abs(x) < 1e21:
        return format(d, "f")
    sign, digits, exp = d.as_tuple()
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    e = exp + len(digits) - 1  # type: ignore[operator]  # finite: an int exponent
    return ("-" if sign else "") + mantissa + f"e{'-' if e < 0 else '+'}{abs(e):02d}".replace("e-0", "e-")


class GoFloat32s:
    """A ``[]float32`` in an answer (Ollama's embeddings): :func:`go_json` writes each value as Go does
    (:func:`go_float` with ``bits=32``)."""

    __slots__ = ("values",)

    def __init__(self, values: Sequence[float]) -> None:
        self.values = values


def go_json(obj: Any) -> bytes:
    """``json.Marshal``: compact, UTF-8 kept, ``<``, ``>``, ``&``, U+2028/9 escaped (only strings hold
    them), invalid UTF-8 (here: lone surrogates) as U+FFFD, a :class:`GoFloat32s` as Go's float32s."""
    return _encode(obj).translate(_HTML).encode()


def go_json_line(obj: Any) -> bytes:
    """``json.NewEncoder(w).Encode``: :func:`go_json`'s bytes and a newline."""
    return go_json(obj) + b"\n"


def _encode(obj: Any) -> str:
    try:
        return compact_utf8(obj).decode()
    except UnicodeEncodeError:
        return compact_utf8(_scrub(obj)).decode()
    except TypeError:  # a GoFloat32s (the C encoder writes any float as Python's repr)
        return _with_float32s(_scrub(obj))


_VECTOR_MARK = re.compile(r'"\\u0000(\d+)\\u0000"')


def _with_float32s(obj: Any) -> str:
    """Encode with each :class:`GoFloat32s` as a marker string, then put its Go text in the marker's place
    (a marker is ``"\\u0000<n>\\u0000"``; a string of the payload's own that read exactly so would be
    taken for one: the payloads that hold vectors carry no such string, only resolved model names)."""
    vectors: list[GoFloat32s] = []

    def mark(o: Any) -> Any:
        if not isinstance(o, GoFloat32s):
            return _default(o)
        vectors.append(o)
        return f"\0{len(vectors) - 1}\0"

    text = "".join(_encoder(":", ",", False, default=mark)(obj, 0))
    return _VECTOR_MARK.sub(lambda m: "[" + ",".join(go_float(x, 32) for x in vectors[int(m[1])].values) + "]", text)


def _scrub(v: Any) -> Any:
    if isinstance(v, str):
        return _SURROGATE.sub("\ufffd", v)
    if isinstance(v, dict):
        return {_scrub(k): _scrub(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_scrub(x) for x in v]
    return v
