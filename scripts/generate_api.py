"""Generate the typed Brayns API, ``brayns_trio/api/_generated.py``, from the vendored reference.

Usage::

    python scripts/generate_api.py            # rewrite brayns_trio/api/_generated.py
    python scripts/generate_api.py --check    # exit 1 if the checked-in file is out of date

Inputs: ``brayns_trio/_data/entrypoints.json`` (the entrypoints, their params and result schemas)
and the top-level schema titles a real braynsService 3.10.1 reports, which the vendored reference
lost (``SCHEMA_TITLES`` in ``brayns_trio/testing/_titles.py``, also used by the fake server's
``schema``). The output is deterministic (classes sorted by name, functions by method) and
already formatted the way ``ruff format`` formats it: regenerating an unchanged reference changes
nothing.

Mapping rules:

- an object schema with properties (or a closed empty one) becomes a frozen attrs class. Its name is
  its ``title``; schemas with the same title and the same Python shape share one class. When one
  title covers several shapes, the shape used most keeps the title (if one does) and the others are
  named after the first method using them: ``<Method>Params`` / ``<Method>Result`` at the top,
  ``<Method><Title>`` below. Untitled schemas are named the same way;
- properties keep their JSON (snake_case) names; a key that is not a valid identifier (``async``)
  gets a valid name and its JSON key in the field metadata;
- a property that is not required becomes ``T | None = None`` and is left out of the JSON when None;
- a ``readOnly`` property is never sent. A shape with required read-only properties gets two
  classes: the one in results has them (as required as the schema says), the one you send as
  params has none of them (``SetSimulationParametersParams`` next to ``SimulationParameters``).
  Elsewhere read-only properties are kept and left out of the JSON that is sent;
- arrays are ``list[...]``, fixed lengths included (the length is in the attribute's docstring);
- ``enum`` becomes ``Literal[...]``; a ``oneOf`` of JSON scalars a union of them;
- what Python types cannot say well becomes ``Any`` or ``dict[str, Any]``, and the docstring says
  so: other ``oneOf``, schemas without a type, free-form objects, ``additionalProperties`` maps
  (``dict[str, T]``);
- binary payloads are not in the schemas: ``upload-model`` takes ``binary: bytes``, and
  ``snapshot``, ``export-gbuffers`` and ``render-image`` return a ``BinaryResult``;
- frame sizes a real braynsService 3.10 aborts on are refused when the params are made
  (``FRAME_SIZES``): a side under 64 pixels, and an ``image_settings`` without ``size``
  (the server takes it as 0x0, not as the viewport). Their fields get a validator;
- a class the client also uses by hand is not generated: its generated name is bound to the
  imported class (``HAND_WRITTEN``). ``VersionMessage`` is ``brayns_trio.Version``, whose fields
  are the schema's (a test checks them).
"""

from __future__ import annotations

import json
import keyword
import re
import runpy
import sys
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The generators' shared command line lives next to them (this folder is not a package).
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _generated_file  # noqa: E402

ENTRYPOINTS_PATH = ROOT / "brayns_trio" / "_data" / "entrypoints.json"
TITLES_PATH = ROOT / "brayns_trio" / "testing" / "_titles.py"
OUTPUT_PATH = ROOT / "brayns_trio" / "api" / "_generated.py"

LINE_LENGTH = 100
INDENT = "    "
BINARY_PARAMS = frozenset({"upload-model"})
BINARY_RESULTS = frozenset({"export-gbuffers", "render-image", "snapshot"})
SCALARS = {"boolean": "bool", "integer": "int", "number": "float", "string": "str", "null": "None"}
RESERVED = frozenset(
    {"Any", "BinaryResult", "ENTRYPOINTS", "EntrypointInfo", "Instance", "Literal", "attrs"}
)
MAX_LISTED_USES = 6
HAND_WRITTEN: dict[str, tuple[str, str]] = {"VersionMessage": ("_version", "Version")}
"""Classes imported instead of generated: generated name -> (module of ``brayns_trio``, name)."""
FRAME_SIZES: dict[tuple[str, tuple[str, ...]], bool] = {
    ("snapshot", ("image_settings", "size")): True,
    ("export-gbuffers", ("resolution",)): False,
    ("set-application-parameters", ("viewport",)): False,
}
"""Params fields holding a frame size ``[width, height]``, by method and JSON path: whether this
client requires them. A real braynsService 3.10.1 aborts (the whole process, every client's
work lost) on a frame under 64x64, and on a ``snapshot`` whose ``image_settings`` has no
``size``. A viewport under 64x64 is accepted, but the next render aborts."""

Schema = dict[str, Any]


# -- schema analysis ---------------------------------------------------------------------------


def is_class(schema: Schema) -> bool:
    """Whether an object schema becomes a class (it lists properties, or allows none at all)."""
    if schema.get("type") != "object" or "oneOf" in schema:
        return False
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        return False
    return bool(schema.get("properties")) or additional is False


def shape(schema: Schema, title: str | None) -> Any:
    """The part of a schema that decides its Python type (descriptions and limits left out)."""
    if "oneOf" in schema:
        return {"oneOf": [shape(item, item.get("title")) for item in schema["oneOf"]]}
    if "enum" in schema:
        return {"enum": schema["enum"]}
    kind = schema.get("type")
    if kind == "object":
        if is_class(schema):
            required = set(schema.get("required", ()))
            return {
                "class": title,
                "properties": {
                    key: [shape(value, value.get("title")), key in required, is_read_only(value)]
                    for key, value in sorted(schema.get("properties", {}).items())
                },
            }
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            return {"map": shape(additional, additional.get("title"))}
        return {"object": None}
    if kind == "array":
        items = schema.get("items", {})
        return {"array": shape(items, items.get("title"))}
    return {"type": kind}


def needs_split(schema: Schema) -> bool:
    """Whether a class schema has required read-only properties, here or in a sent property."""
    if not is_class(schema):
        return False
    required = set(schema.get("required", ()))
    for key, value in schema.get("properties", {}).items():
        if is_read_only(value):
            if key in required:
                return True
        elif needs_split(value) or any(needs_split(v) for v in nested_schemas(value)):
            return True
    return False


def nested_schemas(schema: Schema) -> list[Schema]:
    """The schemas of array items, map values and ``oneOf`` alternatives."""
    found = list(schema.get("oneOf", ()))
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        found.append(additional)
    if schema.get("type") == "array" and "items" in schema:
        found.append(schema["items"])
    nested = [deeper for item in found for deeper in nested_schemas(item)]
    return found + nested


def class_key(schema: Schema, title: str | None, sent: bool) -> str:
    """The identity of a class: its title, its shape, and for split shapes whether it is sent."""
    variant = sent if needs_split(schema) else None
    return json.dumps([shape(schema, title), variant], sort_keys=True)


def is_read_only(schema: Schema) -> bool:
    return bool(schema.get("readOnly"))


def camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", text) if part)


def snake(method: str) -> str:
    name = re.sub(r"\W", "_", method)
    return name + "_" if keyword.iskeyword(name) else name


def field_name(key: str) -> str:
    """A valid Python attribute name for a JSON key (most keys are already one)."""
    name = re.sub(r"\W", "_", key)
    if not name or name[0].isdigit():
        name = "f_" + name
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        name += "_"
    return name


@dataclass(frozen=True, order=True)
class Use:
    """Where a class appears: a method's params or result, and the JSON path below it.

    ``sent``: the value is sent to the server (in params, not below a read-only property).
    """

    method: str
    kind: str
    path: tuple[str, ...] = ()
    sent: bool = False

    def child(self, step: str, *, read_only: bool = False) -> Use:
        return Use(self.method, self.kind, (*self.path, step), self.sent and not read_only)


@dataclass
class ClassInfo:
    """One generated class: a (title, shape, variant) and everywhere it is used."""

    key: str
    title: str | None
    schema: Schema
    sent: bool | None
    """For a split shape, whether this is the variant sent as params; None if not split."""
    uses: list[Use] = field(default_factory=list)
    name: str = ""

    @property
    def received(self) -> bool:
        return any(not use.sent for use in self.uses)


class Generator:
    """Collects the classes of every schema, names them, and renders the module."""

    def __init__(self, entrypoints: Sequence[Schema], titles: dict[str, dict[str, str]]) -> None:
        self.entrypoints = sorted(entrypoints, key=lambda entry: entry["method"])
        self.titles = titles
        self.classes: dict[str, ClassInfo] = {}
        for entry in self.entrypoints:
            method = entry["method"]
            for kind, title_key in (("params", "params"), ("result", "returns")):
                schema = entry[kind]
                if schema is not None:
                    title = self._title(method, title_key, schema)
                    self._collect(schema, title, Use(method, kind, sent=kind == "params"))
        for info in self.classes.values():
            info.uses.sort()
        self._name_classes()

    def _title(self, method: str, title_key: str, schema: Schema) -> str | None:
        title = self.titles.get(method, {}).get(title_key)
        return title if title is not None else schema.get("title")

    def _collect(self, schema: Schema, title: str | None, use: Use) -> None:
        if is_class(schema):
            key = class_key(schema, title, use.sent)
            variant = use.sent if needs_split(schema) else None
            info = self.classes.setdefault(key, ClassInfo(key, title, schema, variant))
            info.uses.append(use)
            for name, value in sorted(schema.get("properties", {}).items()):
                if variant and is_read_only(value):
                    continue  # left out of the sent variant
                child = use.child(name, read_only=is_read_only(value))
                self._collect(value, value.get("title"), child)
            return
        for alternative in schema.get("oneOf", ()):
            self._collect(alternative, alternative.get("title"), use)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            self._collect(additional, additional.get("title"), use.child("*"))
        if schema.get("type") == "array":
            items = schema.get("items", {})
            self._collect(items, items.get("title"), use.child("[]"))

    def _name_classes(self) -> None:
        by_title: dict[str | None, list[ClassInfo]] = defaultdict(list)
        for info in sorted(self.classes.values(), key=lambda info: (info.uses[0], info.key)):
            by_title[info.title].append(info)
        for title, group in by_title.items():
            if title is None:
                for info in group:
                    info.name = self._fallback_name(info.uses[0], None)
                continue
            # The most used shape keeps the title; on a tie, the one found in results does.
            ranks = sorted(((len(info.uses), info.received) for info in group), reverse=True)
            keeper = None
            if len(ranks) == 1 or ranks[0] > ranks[1]:
                keeper = max(group, key=lambda info: (len(info.uses), info.received))
            for info in group:
                info.name = title if info is keeper else self._fallback_name(info.uses[0], title)
        taken = set(RESERVED) | {original for _, original in HAND_WRITTEN.values()}
        for info in sorted(self.classes.values(), key=lambda info: (info.name, info.uses[0])):
            name, number = info.name, 1
            while info.name in taken:
                number += 1
                info.name = f"{name}{number}"
            taken.add(info.name)

    @staticmethod
    def _fallback_name(use: Use, title: str | None) -> str:
        base = camel(use.method)
        if not use.path:
            return base + ("Params" if use.kind == "params" else "Result")
        if title:
            return base + title
        steps = {"[]": "Item", "*": "Value"}
        return base + camel(use.kind) + "".join(steps.get(step, camel(step)) for step in use.path)

    # -- types --------------------------------------------------------------------------------

    def annotation(
        self, schema: Schema | None, title: str | None = None, *, sent: bool = False
    ) -> str:
        """The Python type of a schema (``None`` for no schema: a null result).

        ``sent``: the value is sent as params (it picks the variant of split shapes).
        """
        if schema is None:
            return "None"
        if "oneOf" in schema:
            kinds = [alternative.get("type") for alternative in schema["oneOf"]]
            if all(kind in SCALARS for kind in kinds):
                return union(SCALARS[kind] for kind in kinds)
            return "Any"
        if "enum" in schema:
            return "Literal[" + ", ".join(literal(value) for value in schema["enum"]) + "]"
        kind = schema.get("type")
        if isinstance(kind, list):
            return union(SCALARS.get(item, "Any") for item in kind)
        if kind == "object":
            if is_class(schema):
                return self.classes[class_key(schema, title, sent)].name
            additional = schema.get("additionalProperties")
            if isinstance(additional, dict):
                value = self.annotation(additional, additional.get("title"), sent=sent)
                return f"dict[str, {value}]"
            return "dict[str, Any]"
        if kind == "array":
            items = schema.get("items")
            if items is None:
                return "list[Any]"
            return f"list[{self.annotation(items, items.get('title'), sent=sent)}]"
        return SCALARS.get(kind, "Any") if kind is not None else "Any"

    # -- rendering ----------------------------------------------------------------------------

    def render(self) -> str:
        classes = sorted(self.classes.values(), key=lambda info: info.name)
        missing = set(HAND_WRITTEN) - {info.name for info in classes}
        if missing:
            raise ValueError(f"hand-written classes the reference no longer has: {missing}")
        blocks = [
            self.render_hand_written(info) if info.name in HAND_WRITTEN else self.render_class(info)
            for info in classes
        ]
        blocks += [self.render_function(entry) for entry in self.entrypoints]
        blocks.append(self.render_table())
        body = "\n\n\n".join("\n".join(block) for block in blocks)
        names = [info.name for info in classes]
        names += [snake(entry["method"]) for entry in self.entrypoints]
        names.append("ENTRYPOINTS")
        head = [
            '"""Typed functions and classes for the '
            f"{len(self.entrypoints)} entrypoints of Brayns 3.10.",
            "",
            "Generated by ``scripts/generate_api.py`` from ``brayns_trio/_data/entrypoints.json``:",
            "do not edit, regenerate. Import them from :mod:`brayns_trio.api`.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
        ]
        typing_names = [name for name in ("Any", "Literal") if re.search(rf"\b{name}\[?", body)]
        if typing_names:
            head += [f"from typing import {', '.join(typing_names)}", ""]
        head += ["import attrs", "", "from .._instance import Instance"]
        for module, original in sorted(HAND_WRITTEN.values()):
            head.append(f"from ..{module} import {original}")
        convert_names = [
            name for name in ("from_json", "meta", "to_json") if re.search(rf"\b{name}\(", body)
        ]
        head.append(f"from ._convert import {', '.join(convert_names)}")
        support_names = ["BinaryResult", "EntrypointInfo"]
        if re.search(r"\bframe_size\(", body):
            support_names.append("frame_size")
        head.append(f"from ._support import {', '.join(support_names)}")
        head += ["", "__all__ = ["]
        head += [f"{INDENT}{json.dumps(name)}," for name in sorted(names, key=all_sort_key)]
        head.append("]")
        return "\n".join(head) + "\n\n\n" + body + "\n"

    def render_hand_written(self, info: ClassInfo) -> list[str]:
        """A class of ``HAND_WRITTEN``: its generated name bound to the imported class."""
        original = HAND_WRITTEN[info.name][1]
        paragraphs = [
            f"The ``{info.title}`` of the Brayns API: :class:`brayns_trio.{original}`.",
            "Used in " + describe_uses(info.uses) + ".",
        ]
        return [f"{info.name} = {original}", *docstring(paragraphs, "")]

    def render_class(self, info: ClassInfo) -> list[str]:
        schema = info.schema
        required = set(schema.get("required", ()))
        properties = sorted(schema.get("properties", {}).items())
        if info.sent:
            properties = [(key, value) for key, value in properties if not is_read_only(value)]
        summary = next(
            (
                sentence(self._schema_at(use).get("description", ""))
                for use in info.uses
                if self._schema_at(use).get("description")
            ),
            (
                f"A ``{info.title}`` of the Brayns API."
                if info.title
                else f"The {info.uses[0].kind} of ``{info.uses[0].method}``."
            ),
        )
        paragraphs = [summary, "Used in " + describe_uses(info.uses) + "."]
        if info.sent:
            paragraphs.append(
                "The properties the server fills in (read-only) are left out: they are never sent."
            )
        # Read-only properties matter only where a class is sent.
        sent_somewhere = any(use.sent for use in info.uses)
        lines = ["@attrs.frozen(kw_only=True)", f"class {info.name}:"]
        lines += docstring(paragraphs, INDENT)
        for key, value in properties:
            lines.append("")
            read_only = is_read_only(value) and sent_somewhere
            optional = key not in required
            name = field_name(key)
            sent = bool(info.sent) and not read_only
            annotation = self.annotation(value, value.get("title"), sent=sent)
            if optional:
                annotation = make_optional(annotation)
            meta_args = []
            if read_only:
                meta_args.append("read_only=True")
            if name != key:
                meta_args.append(f"key={json.dumps(key)}")
            frame_required = self.frame_size_rule(info, key)
            head = f"{INDENT}{name}: {annotation}"
            if meta_args or frame_required is not None:
                field_args = ["default=None"] if optional else []
                if frame_required is not None:
                    field_args.append(f"validator=frame_size(required={frame_required})")
                if meta_args:
                    field_args.append(f"metadata=meta({', '.join(meta_args)})")
                lines += fit_call(f"{head} = attrs.field(", field_args, ")")
            elif optional:
                lines.append(f"{head} = None")
            else:
                lines.append(head)
            doc = self.field_doc(value, annotation, read_only)
            if frame_required is not None:
                doc += " " + frame_size_doc(frame_required)
            lines += docstring([doc], INDENT)
        return lines

    @staticmethod
    def frame_size_rule(info: ClassInfo, key: str) -> bool | None:
        """For a frame size field of ``FRAME_SIZES``: whether it is required; else ``None``."""
        rules = {
            FRAME_SIZES[found]
            for use in info.uses
            if use.sent and (found := (use.method, (*use.path, key))) in FRAME_SIZES
        }
        if not rules:
            return None
        if info.received or len(rules) > 1:
            # A validator would refuse what a server sends, or the uses disagree.
            raise ValueError(f"{info.name}.{key}: a frame size rule needs a class only sent")
        return rules.pop()

    def _schema_at(self, use: Use) -> Schema:
        entry = next(e for e in self.entrypoints if e["method"] == use.method)
        schema: Schema = entry[use.kind]
        for step in use.path:
            if step == "[]":
                schema = schema["items"]
            elif step == "*":
                schema = schema["additionalProperties"]
            else:
                schema = schema["properties"][step]
        return schema

    def field_doc(self, schema: Schema, annotation: str, read_only: bool) -> str:
        parts = []
        if schema.get("description"):
            parts.append(sentence(schema["description"]))
        annotation = annotation.removesuffix(" | None")
        if "oneOf" in schema and annotation == "Any":
            parts.append("Any JSON value: one of several schemas, not typed here.")
        elif annotation == "Any":
            parts.append("Any JSON value: the schema does not type it.")
        elif annotation == "dict[str, Any]":
            parts.append("A free-form JSON object.")
        if schema.get("type") == "array":
            low, high = schema.get("minItems"), schema.get("maxItems")
            if low is not None and low == high:
                parts.append(f"{low} items.")
            elif low is not None and high is not None:
                parts.append(f"{low} to {high} items.")
            elif low is not None:
                parts.append(f"At least {low} items.")
            elif high is not None:
                parts.append(f"At most {high} items.")
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            parts.append(f"From {low} to {high}.")
        elif low is not None:
            parts.append(f"Minimum {low}.")
        elif high is not None:
            parts.append(f"Maximum {high}.")
        if "default" in schema:
            parts.append(f"Server default: ``{json.dumps(schema['default'])}``.")
        if read_only:
            parts.append("Read-only: set by the server, never sent.")
        return " ".join(parts) or "Undocumented."

    def render_function(self, entry: Schema) -> list[str]:
        method = entry["method"]
        name = snake(method)
        titles = self.titles.get(method, {})
        params = entry["params"]
        result = entry["result"]
        args = ["instance: Instance"]
        call_args = [json.dumps(method)]
        if params is not None:
            annotation = self.annotation(params, self._title(method, "params", params), sent=True)
            needed = set(params.get("required", ()))
            properties = params.get("properties", {})
            if is_class(params) and not any(
                key in needed and not is_read_only(value) for key, value in properties.items()
            ):
                args.append(f"params: {make_optional(annotation)} = None")
            else:
                args.append(f"params: {annotation}")
            call_args.append("to_json(params)")
        if method in BINARY_PARAMS:
            args.append("binary: bytes")
            call_args.append("binary")
        result_type = (
            self.annotation(result, self._title(method, "returns", result))
            if result is not None
            else "None"
        )
        binary_result = method in BINARY_RESULTS
        returns = f"BinaryResult[{result_type}]" if binary_result else result_type
        lines = fit_call(f"async def {name}(", args, f") -> {returns}:")
        lines += docstring(self.function_doc(entry, titles), INDENT)
        quoted = json.dumps(method)
        if binary_result or method in BINARY_PARAMS or entry["async"]:
            target = "reply = " if binary_result or result is not None else ""
            lines += fit_call(f"{INDENT}{target}await instance.execute(", call_args, ")")
            value = "reply.result"
        elif result is not None:
            lines += fit_call(f"{INDENT}result = await instance.request(", call_args, ")")
            value = "result"
        else:
            lines += fit_call(f"{INDENT}await instance.request(", call_args, ")")
            return lines
        if binary_result:
            if result is None:
                lines.append(f"{INDENT}return BinaryResult(result=None, binary=reply.binary)")
            else:
                lines += fit_call(f"{INDENT}result = from_json(", [value, result_type, quoted], ")")
                lines.append(f"{INDENT}return BinaryResult(result=result, binary=reply.binary)")
        elif result is not None:
            lines += fit_call(f"{INDENT}return from_json(", [value, result_type, quoted], ")")
        return lines

    def function_doc(self, entry: Schema, titles: dict[str, str]) -> list[str]:
        method = entry["method"]
        paragraphs = [sentence(entry["description"])]
        notes = [f"Method ``{method}``."]
        if entry["plugin"] != "Core":
            notes.append(f"From the {entry['plugin']} plugin.")
        if entry["deprecated"]:
            notes.append("Deprecated by Brayns.")
        if entry["async"]:
            notes.append(
                "Asynchronous on the server: it sends progress (use ``instance.task`` to read "
                "it) and cancelling the caller sends a ``cancel``."
            )
        paragraphs.append(" ".join(notes))
        if method in BINARY_PARAMS:
            paragraphs.append("``binary`` is the file's content, sent in the binary frame.")
        if method in BINARY_RESULTS:
            paragraphs.append("The reply's binary payload is returned in ``binary``.")
        errors = "Error handling: :class:`brayns_trio.JsonRpcError` for the server's errors"
        if entry["result"] is not None:
            errors += (
                ", :class:`brayns_trio.api.ResultError` for a result that does not fit its type"
            )
        paragraphs.append(errors + ", and as :meth:`brayns_trio.Instance.request`.")
        return paragraphs

    def render_table(self) -> list[str]:
        lines = ["ENTRYPOINTS: dict[str, EntrypointInfo] = {"]
        for entry in self.entrypoints:
            method = entry["method"]
            params = entry["params"]
            result = entry["result"]
            params_type = (
                self.annotation(params, self._title(method, "params", params), sent=True)
                if params is not None
                else "None"
            )
            result_type = (
                self.annotation(result, self._title(method, "returns", result))
                if result is not None
                else "None"
            )
            lines.append(f"{INDENT}{json.dumps(method)}: EntrypointInfo(")
            for key, value in (
                ("method", json.dumps(method)),
                ("function", snake(method)),
                ("params", params_type),
                ("result", result_type),
                ("binary_params", str(method in BINARY_PARAMS)),
                ("binary_result", str(method in BINARY_RESULTS)),
            ):
                lines.append(f"{INDENT * 2}{key}={value},")
            lines.append(f"{INDENT}),")
        lines.append("}")
        lines += docstring(
            [
                "Every entrypoint of the reference, by method: its typed function, params and "
                "result types."
            ],
            "",
        )
        return lines


# -- text helpers ------------------------------------------------------------------------------


def frame_size_doc(required: bool) -> str:
    text = (
        "At least 64x64: a Brayns 3.10 server aborts on a smaller frame, so a smaller one "
        "raises ``ValueError`` here."
    )
    if required:
        text = (
            "Required by this client (``ValueError`` without it): a Brayns 3.10 server takes a "
            "missing size as 0x0 and aborts; leave out ``image_settings`` to render at the "
            "viewport size. " + text
        )
    return text


def union(members: Iterable[str]) -> str:
    unique = list(dict.fromkeys(members))
    if "Any" in unique:
        return "Any"
    if "None" in unique:
        unique = [member for member in unique if member != "None"] + ["None"]
    return " | ".join(unique)


def make_optional(annotation: str) -> str:
    if annotation == "Any" or annotation.endswith("| None") or annotation == "None":
        return annotation
    return f"{annotation} | None"


def literal(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def sentence(text: str) -> str:
    text = " ".join(text.split())
    if text and text[-1] not in ".!?":
        text += "."
    return text[:1].upper() + text[1:]


def describe_uses(uses: Sequence[Use]) -> str:
    pairs = list(dict.fromkeys((use.method, use.kind) for use in uses))
    listed = [f"``{method}`` ({kind})" for method, kind in pairs]
    if len(listed) > MAX_LISTED_USES:
        more = len(listed) - (MAX_LISTED_USES - 1)
        listed = [*listed[: MAX_LISTED_USES - 1], f"{more} more"]
    return ", ".join(listed)


def all_sort_key(name: str) -> tuple[int, list[Any]]:
    """The order ruff wants in ``__all__``: CONSTANTS, then Classes, then the rest (natural)."""
    if name.isupper():
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    natural = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
    return group, natural


def docstring(paragraphs: Sequence[str], indent: str) -> list[str]:
    """A docstring as ruff formats it: one line if it fits, else wrapped, closing quotes alone."""
    paragraphs = [p.replace("\\", "\\\\").replace('"""', '\\"\\"\\"') for p in paragraphs]
    single = f'{indent}"""{paragraphs[0]}"""'
    if len(paragraphs) == 1 and len(single) <= LINE_LENGTH and not paragraphs[0].endswith('"'):
        return [single]
    lines: list[str] = []
    for number, paragraph in enumerate(paragraphs):
        if number:
            lines.append("")
        first = f'{indent}"""' if number == 0 else indent
        lines += textwrap.wrap(
            paragraph,
            width=LINE_LENGTH,
            initial_indent=first,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
    lines.append(f'{indent}"""')
    return lines


def fit_call(head: str, args: Sequence[str], tail: str) -> list[str]:
    """``head`` + arguments + ``tail`` split the way ruff splits a call or a signature."""
    indent = re.match(r"\s*", head)
    assert indent is not None
    inner = indent.group() + INDENT
    one_line = head + ", ".join(args) + tail
    if len(one_line) <= LINE_LENGTH:
        return [one_line]
    hugged = inner + ", ".join(args)
    if len(hugged) <= LINE_LENGTH:
        return [head, hugged, indent.group() + tail]
    return [head, *(f"{inner}{arg}," for arg in args), indent.group() + tail]


# -- entry points -----------------------------------------------------------------------------


def generate(entrypoints: Sequence[Schema], titles: dict[str, dict[str, str]]) -> str:
    """The text of ``_generated.py`` for these entrypoints and top-level schema titles."""
    return Generator(entrypoints, titles).render()


def load_inputs() -> tuple[list[Schema], dict[str, dict[str, str]]]:
    """Read the vendored reference and the titles table from this checkout."""
    entrypoints = json.loads(ENTRYPOINTS_PATH.read_text("utf-8"))
    titles = runpy.run_path(str(TITLES_PATH))["SCHEMA_TITLES"]
    return entrypoints, titles


def main(argv: Sequence[str] | None = None) -> int:
    """Write the generated module, or with ``--check`` exit 1 if the one on disk is stale."""
    return _generated_file.main(
        __doc__.split("\n\n")[0],
        OUTPUT_PATH,
        lambda: generate(*load_inputs()),
        "scripts/generate_api.py",
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
