"""A JSON Schema compiled to one Python function that proves the common case conforms, fast.

`jsonschema` checks a conversation in ~300 us; export checks every one, which made it 30x slower than
reading the log DB. `compile_conforms(schema)` turns the schema into straight-line Python source (like
fastjsonschema does) for the keyword subset the repo's schemas use, and is CONSERVATIVE: the function
returns True only when the instance certainly conforms; anything it cannot prove (a str subclass, 1.0
where the enum says 1, ...) returns False, and the caller asks `jsonschema` for the verdict and the
message. So `conforms(x) is True` implies jsonschema finds no error, and every row is still checked
against the schema file itself, the single source of truth. A schema using a keyword outside the subset
gives None: use jsonschema for everything. Not a general validator.

`RecordCheck(schema_path)` is what stages call on every record they write (export, build, mix): the
compiled proof first, jsonschema only for a record it cannot prove, and the first violation as
`<field path>: <message>` (None when the record conforms).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import jsonschema

# Keywords that only annotate: no effect on validity.
ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "$comment", "examples", "default"}
SUPPORTED = ANNOTATIONS | {"type", "enum", "const", "pattern", "minLength", "maxLength", "minimum", "maximum",
                           "minItems", "maxItems", "required", "properties", "additionalProperties", "items", "$ref"}
# Exact Python types per JSON type: `type(x) is` excludes bool from numbers (as JSON Schema does) and
# subclasses (which then take the slow, exact path).
PY_TYPES = {"string": (str,), "null": (type(None),), "number": (int, float), "integer": (int,), "object": (dict,),
            "array": (list,), "boolean": (bool,)}


class Unsupported(ValueError):
    """The schema uses a keyword or form this compiler does not handle."""


class _Compiler:
    def __init__(self, root: dict[str, Any]):
        self.root = root
        self.consts: dict[str, Any] = {"NoneType": type(None), "MISSING": object()}
        self.functions: dict[str, str] = {}     # $ref -> function name
        self.sources: list[str] = []
        self.inlining: set[str] = set()
        self.n = 0

    def const(self, value: Any) -> str:
        self.n += 1
        name = f"C{self.n}"
        self.consts[name] = value
        return name

    def var(self) -> str:
        self.n += 1
        return f"v{self.n}"

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#/$defs/") or ref[8:] not in self.root.get("$defs", {}):
            raise Unsupported(f"$ref {ref!r}: only local #/$defs/ references")
        return self.root["$defs"][ref[8:]]

    def function(self, ref: str) -> str:
        if ref not in self.functions:
            name = self.functions[ref] = f"f_{re.sub(r'[^0-9A-Za-z_]', '_', ref[8:])}"
            self.define(name, self.resolve(ref))
        return self.functions[ref]

    def define(self, name: str, schema: Any) -> None:
        lines = [f"def {name}(x):", "  try:"]
        self.emit(schema, "x", lines, "    ")
        lines += ["    return True", "  except KeyError:", "    return False"]
        self.sources.append("\n".join(lines))

    def emit(self, schema: Any, x: str, out: list[str], ind: str) -> None:
        if schema is True:
            return
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        unknown = set(schema) - SUPPORTED
        if unknown:
            raise Unsupported(f"keywords {sorted(unknown)}")
        if "$ref" in schema:
            ref = schema["$ref"]
            if ref in self.inlining:   # recursive: call the definition's own function
                out.append(f"{ind}if not {self.function(ref)}({x}): return False")
            else:                      # inlined: a function call per array item is most of the cost
                self.inlining.add(ref)
                self.emit(self.resolve(ref), x, out, ind)
                self.inlining.discard(ref)
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if any(t not in PY_TYPES for t in types):
                raise Unsupported(f"type {schema['type']!r}")
            allowed = self.const(frozenset(k for t in types for k in PY_TYPES[t]))
            out.append(f"{ind}if type({x}) not in {allowed}: return False")
        for key in ("enum", "const"):
            if key not in schema:
                continue
            values = schema["enum"] if key == "enum" else [schema["const"]]
            if not all(v is None or type(v) in (str, int, float, bool) for v in values):
                raise Unsupported(f"{key} of objects or arrays")
            kinds = self.const(frozenset(type(v) for v in values))
            out.append(f"{ind}if type({x}) not in {kinds} or {x} not in {self.const(tuple(values))}: return False")
        if "pattern" in schema:
            out.append(f"{ind}if type({x}) is str and {self.const(re.compile(schema['pattern']))}.search({x}) is None:"
                       " return False")
        for key, op in (("minLength", "<"), ("maxLength", ">")):
            if key in schema:
                out.append(f"{ind}if type({x}) is str and len({x}) {op} {int(schema[key])}: return False")
        for key, op in (("minItems", "<"), ("maxItems", ">")):
            if key in schema:
                out.append(f"{ind}if type({x}) is list and len({x}) {op} {int(schema[key])}: return False")
        for key, op in (("minimum", "<"), ("maximum", ">")):
            if key in schema:
                out.append(f"{ind}if type({x}) in (int, float) and {x} {op} {schema[key]!r}: return False")
        if {"properties", "required", "additionalProperties"} & set(schema):
            self.emit_object(schema, x, out, ind)
        if "items" in schema:
            item = self.var()
            body: list[str] = []
            self.emit(schema["items"], item, body, ind + "        ")
            if body:
                out.append(f"{ind}if type({x}) is list:")
                out.append(f"{ind}    for {item} in {x}:")
                out.extend(body)

    def emit_object(self, schema: dict[str, Any], x: str, out: list[str], ind: str) -> None:
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        if extra not in (True, False):
            raise Unsupported("additionalProperties as a schema")
        out.append(f"{ind}if type({x}) is dict:")
        inner = ind + "    "
        required = schema.get("required", [])
        # Rows carrying exactly the declared properties (what adapters build) pass the key checks in one test.
        out.append(f"{inner}if {x}.keys() != {self.const(frozenset(props))}:")
        if extra is False:
            out.append(f"{inner}    if not {x}.keys() <= {self.const(frozenset(props))}: return False")
        if required:
            out.append(f"{inner}    if not {x}.keys() >= {self.const(frozenset(required))}: return False")
        out.append(f"{inner}    pass")
        # A required property is read by subscript: when absent it raises KeyError, which the function turns
        # into False (not proven; jsonschema decides). An optional one is read with .get(name, MISSING): a
        # record without it (a built row written before a new nullable column existed) stays on the fast path.
        simple_checks = []
        for name, sub in props.items():
            optional = name not in required
            read = f"{x}.get({name!r}, MISSING)" if optional else f"{x}[{name!r}]"
            check = self.simple_check(sub, read, optional)
            if check is not None:
                simple_checks.append(check)
                continue
            value = self.var()
            body: list[str] = []
            self.emit(sub, value, body, inner + ("    " if optional else ""))
            if body:
                out.append(f"{inner}{value} = {read}")
                if optional:
                    out.append(f"{inner}if {value} is not MISSING:")
                out.extend(body)
        for i in range(0, len(simple_checks), 4):  # a few per `if`: fewer jumps, still readable when printed
            out.append(f"{inner}if {' or '.join(simple_checks[i:i + 4])}: return False")

    def simple_check(self, schema: Any, expr: str, optional: bool = False) -> str | None:
        """A failing-condition expression for a property whose schema is only a type, an enum or a const.

        `optional`: `expr` gives MISSING when the property is absent, which passes (MISSING's type is
        exactly `object`, which no JSON value has, so adding it to the allowed types costs nothing).
        """
        keys = set(schema) - ANNOTATIONS if isinstance(schema, dict) else set()
        if len(keys) != 1 or not {"type", "enum", "const"} & keys:
            return None
        absent = {object} if optional else set()
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if any(t not in PY_TYPES for t in types):
                return None
            return f"type({expr}) not in {self.const(frozenset({k for t in types for k in PY_TYPES[t]} | absent))}"
        values = schema["enum"] if "enum" in schema else [schema["const"]]
        if not all(v is None or type(v) in (str, int, float) for v in values):
            return None
        # type first: True == 1 in Python, but JSON Schema's enum tells a boolean from a number
        allowed = frozenset(values) | ({self.consts["MISSING"]} if optional else set())
        return (f"type({expr}) not in {self.const(frozenset(type(v) for v in values) | absent)} "
                f"or {expr} not in {self.const(allowed)}")


def compile_conforms(schema: dict[str, Any]) -> Callable[[Any], bool] | None:
    """A function proving conformance to `schema` (True) or giving up (False); None if the schema is out of reach."""
    compiler = _Compiler(schema)
    try:
        compiler.define("conforms", schema)
    except Unsupported:
        return None
    namespace = dict(compiler.consts)
    exec(compile("\n\n".join(compiler.sources), "<schema_check>", "exec"), namespace)  # noqa: S102 (our own source)
    return namespace["conforms"]


def first_error(validator: jsonschema.Draft202012Validator, record: Any) -> str | None:
    """The first violation (by field path) as '<field path>: <message>', or None; '(root)' for the record itself."""
    errors = sorted(validator.iter_errors(record), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:
        return None
    e = errors[0]
    message = e.message if len(e.message) <= 200 else e.message[:197] + "..."
    return f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {message}"


class RecordCheck:
    """`check(record) -> None | '<field path>: <message>'` for one schema file, fast on conforming records.

    The compiled proof (~2-5 us a record) decides every record it can; jsonschema (~100-300 us) gives the
    verdict and the message for the rest. The schema file is checked against its metaschema on load.
    """

    def __init__(self, schema: str | Path | dict[str, Any], error: Callable[[Any, Any], str | None] | None = None):
        self.error = error or first_error   # (validator, record) -> the message of a record that breaks it
        if not isinstance(schema, dict):
            self.path = Path(schema)
            schema = json.loads(self.path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        self.schema = schema
        self.validator = jsonschema.Draft202012Validator(schema)
        self.conforms = compile_conforms(schema)

    def __call__(self, record: Any) -> str | None:
        if self.conforms is not None and self.conforms(record):
            return None
        return self.error(self.validator, record)

    def __reduce__(self) -> tuple[Any, tuple[Any, Any]]:
        # pickled as its schema (the compiled check and the validator are rebuilt): a stage's state can go
        # to worker processes or a cluster (`logtune.engine`)
        return RecordCheck, (self.schema, self.error)
