"""A JSON Schema compiled to one Python function that proves the common case conforms, fast.

`jsonschema` checks a conversation in ~300 us; export checks every one, which made it 30x slower than
reading the log DB. `compile_conforms(schema)` turns the schema into straight-line Python source (like
fastjsonschema does) for the keyword subset the repo's schemas use, and is CONSERVATIVE: the function
returns True only when the instance certainly conforms; anything it cannot prove (a str subclass, 1.0
where the enum says 1, ...) returns False, and the caller asks `jsonschema` for the verdict and the
message. So `conforms(x) is True` implies jsonschema finds no error, and every row is still checked
against the schema file itself, the single source of truth. A schema using a keyword outside the subset
gives None: use jsonschema for everything. Not a general validator.
"""

from __future__ import annotations

import re
from typing import Any, Callable

# Keywords that only annotate: no effect on validity.
ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "$comment", "examples", "default"}
SUPPORTED = ANNOTATIONS | {"type", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "required",
                           "properties", "additionalProperties", "items", "$ref"}
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
        if "enum" in schema:
            values = schema["enum"]
            if not all(v is None or type(v) in (str, int, float, bool) for v in values):
                raise Unsupported("enum of objects or arrays")
            kinds = self.const(frozenset(type(v) for v in values))
            out.append(f"{ind}if type({x}) not in {kinds} or {x} not in {self.const(tuple(values))}: return False")
        if "pattern" in schema:
            out.append(f"{ind}if type({x}) is str and {self.const(re.compile(schema['pattern']))}.search({x}) is None:"
                       " return False")
        for key, op in (("minLength", "<"), ("maxLength", ">")):
            if key in schema:
                out.append(f"{ind}if type({x}) is str and len({x}) {op} {int(schema[key])}: return False")
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
        # Every property is read by subscript: an absent optional one raises KeyError, which the function
        # turns into False (not proven; jsonschema decides). Rows built with every field stay on the fast path.
        simple_checks = []
        for name, sub in props.items():
            check = self.simple_check(sub, f"{x}[{name!r}]")
            if check is not None:
                simple_checks.append(check)
                continue
            value = self.var()
            body: list[str] = []
            self.emit(sub, value, body, inner)
            if body:
                out.append(f"{inner}{value} = {x}[{name!r}]")
                out.extend(body)
        for i in range(0, len(simple_checks), 4):  # a few per `if`: fewer jumps, still readable when printed
            out.append(f"{inner}if {' or '.join(simple_checks[i:i + 4])}: return False")

    def simple_check(self, schema: Any, expr: str) -> str | None:
        """A failing-condition expression for a property whose schema is only a type or only an enum."""
        if not isinstance(schema, dict) or len(set(schema) - ANNOTATIONS) != 1 or not {"type", "enum"} & set(schema):
            return None
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if any(t not in PY_TYPES for t in types):
                return None
            return f"type({expr}) not in {self.const(frozenset(k for t in types for k in PY_TYPES[t]))}"
        values = schema["enum"]
        if not all(v is None or type(v) in (str, int, float) for v in values):
            return None
        # type first: True == 1 in Python, but JSON Schema's enum tells a boolean from a number
        return (f"type({expr}) not in {self.const(frozenset(type(v) for v in values))} "
                f"or {expr} not in {self.const(frozenset(values))}")


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
