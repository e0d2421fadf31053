"""Output schemas of roles: JSON Schema files next to the role files, and a check of answers.

A role whose replies are structured names a schema file (`output_schema = "x.schema.json"`).
The same data serves twice: it is sent as the request's `response_format` (strict), and a
model's answer is checked against it before anything is drawn from it.

Only the part of JSON Schema that strict structured output accepts and a small checker can
honour is allowed: `type`, `properties`, `required`, `additionalProperties`, `items`, `enum`,
`minimum`, `maximum` and the `description`/`title` annotations. Every object must list all its
properties as required and forbid others (what strict mode demands). A schema using anything
else is refused when the role is loaded, rather than sent to the provider but silently not
checked here. The checks are a few explicit lines rather than the `jsonschema` package: that
package is not a dependency of the app, and each rejection stays readable in a test (the tests
compare the two on every case).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assistant.errors import ConfigurationError

KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "minimum",
        "maximum",
        "description",
        "title",
    }
)
_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


def load_schema(path: Path) -> dict[str, Any]:
    """The schema in `path`, checked for the subset described above; errors name the file."""
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"Schema file {path.name} cannot be read: {exc}") from None
    except ValueError as exc:
        raise ConfigurationError(f"Schema file {path.name} is not valid JSON: {exc}") from None
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise ConfigurationError(f"Schema file {path.name}: the top level must be an object.")
    found = _schema_problem(schema, "$")
    if found:
        raise ConfigurationError(f"Schema file {path.name}: {found}")
    return schema


def _schema_problem(schema: Any, where: str) -> str | None:
    if not isinstance(schema, dict):
        return f"{where} must be a schema object."
    unknown = sorted(set(schema) - KEYWORDS)
    if unknown:
        return f"{where} uses {', '.join(unknown)}, which this app cannot check."
    kind = schema.get("type")
    if kind not in _TYPES:
        return f"{where} needs a type, one of {', '.join(sorted(_TYPES))}."
    if kind == "object":
        properties = schema.get("properties", {})
        if not isinstance(properties, dict):
            return f"{where}.properties must be an object."
        if schema.get("additionalProperties") is not False:
            return f"{where} must set additionalProperties to false (strict output)."
        if sorted(schema.get("required", [])) != sorted(properties):
            return f"{where} must list every property in required (strict output)."
        for name, child in properties.items():
            found = _schema_problem(child, f"{where}.{name}")
            if found:
                return found
    if kind == "array":
        return _schema_problem(schema.get("items"), f"{where}[]")
    if "enum" in schema and not isinstance(schema["enum"], list):
        return f"{where}.enum must be a list."
    return None


def _is_number(value: Any) -> bool:
    # bool is an int in Python but not a JSON number; NaN and infinity are not JSON at all.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


_IS_TYPE = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def problem(value: Any, schema: Mapping[str, Any], where: str = "$") -> str | None:
    """Why `value` does not follow `schema` (a schema `load_schema` accepted), or None."""
    kind = schema["type"]
    if not _IS_TYPE[kind](value):
        return f"{where} is not a {kind}."
    if "enum" in schema and value not in schema["enum"]:
        return f"{where} is not one of {schema['enum']}."
    if "minimum" in schema and value < schema["minimum"]:
        return f"{where} is below {schema['minimum']}."
    if "maximum" in schema and value > schema["maximum"]:
        return f"{where} is above {schema['maximum']}."
    if kind == "object":
        properties = schema.get("properties", {})
        missing = sorted(set(properties) - set(value))
        extra = sorted(set(value) - set(properties))
        if missing:
            return f"{where} lacks {', '.join(missing)}."
        if extra:
            return f"{where} has unexpected {', '.join(extra)}."
        for name, child in properties.items():
            found = problem(value[name], child, f"{where}.{name}")
            if found:
                return found
    if kind == "array":
        for index, item in enumerate(value):
            found = problem(item, schema["items"], f"{where}[{index}]")
            if found:
                return found
    return None


__all__ = ["KEYWORDS", "load_schema", "problem"]
