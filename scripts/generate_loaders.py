"""Generate brayns_trio/_loaders_generated.py (typed loader parameters) from the vendored
loaders.json.

One frozen attrs class per loader of ``get-loaders`` (``MeshLoader``, ``SonataLoader``...),
fields named as the JSON keys, ``None`` for optional fields (left out when sent, so the server
applies its default), ``Literal`` aliases for enums, a class per titled nested object. Each
loader class carries ``LOADER_NAME``, ``PLUGIN``, ``EXTENSIONS`` and ``BINARY``.

Usage: ``python scripts/generate_loaders.py`` (write) or ``--check`` (fail if stale).
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The generators' shared command line lives next to them (this folder is not a package).
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _generated_file  # noqa: E402

LOADERS_PATH = ROOT / "brayns_trio" / "_data" / "loaders.json"
OUTPUT_PATH = ROOT / "brayns_trio" / "_loaders_generated.py"
LINE_LENGTH = 100
SCALARS = {"boolean": "bool", "integer": "int", "number": "float", "string": "str"}

Schema = dict[str, Any]


def camel(text: str) -> str:
    """``"Neuron Morphology loader"`` -> ``"NeuronMorphologyLoader"``; acronyms lose caps."""
    words = text.replace("-", " ").replace("_", " ").split()
    return "".join(word[:1].upper() + word[1:].lower() for word in words)


def class_name(loader: Schema) -> str:
    name = camel(loader["name"])
    return name if name.endswith("Loader") else name + "Loader"


def short_name(loader: Schema) -> str:
    return class_name(loader).removesuffix("Loader")


def title_prefix(title: str) -> str:
    """The prefix of a nested class's enums: its title without the usual suffixes."""
    for suffix in ("LoaderParameters", "Parameters", "Settings"):
        if title.endswith(suffix):
            return title.removesuffix(suffix)
    return title


def docstring(text: str, indent: str) -> list[str]:
    """A docstring wrapped to the line length (one line if it fits), as ruff formats it."""
    one = f'{indent}"""{text}"""'
    if len(one) <= LINE_LENGTH:
        return [one]
    width = LINE_LENGTH - len(indent)
    lines = textwrap.wrap(text, width, initial_indent='"""', break_on_hyphens=False)
    if len(lines) == 1:
        # ruff joins a closing quote line to a single text line that fits: split it in two.
        lines = textwrap.wrap(text, len(text) // 2 + 3, initial_indent='"""')
    return [indent + line for line in lines] + [f'{indent}"""']


def literal_value(value: Any) -> str:
    return json.dumps(value)


def extension_tuple(loader: Schema) -> str:
    values = [literal_value(extension) for extension in loader["extensions"]]
    return f"({values[0]},)" if len(values) == 1 else f"({', '.join(values)})"


class Generator:
    def __init__(self, loaders: Sequence[Schema]) -> None:
        self.loaders = loaders
        self.aliases: dict[str, list[Any]] = {}
        self.classes: dict[str, list[str]] = {}
        self.order: list[str] = []
        self.names: dict[str, str] = {}

    def alias(self, prefix: str, key: str, values: list[Any]) -> str:
        for known_name, known_values in self.aliases.items():
            if known_values == values:
                return known_name
        name = prefix + camel(key)
        known = self.aliases.get(name)
        if known is not None and known != values:
            raise ValueError(f"two enums named {name}")
        self.aliases[name] = values
        return name

    def annotation(self, schema: Schema, prefix: str, key: str) -> str:
        if "enum" in schema:
            return self.alias(prefix, key, schema["enum"])
        kind = schema.get("type")
        if kind == "array":
            return f"list[{self.annotation(schema.get('items', {}), prefix, key)}]"
        if kind == "object":
            title = schema.get("title")
            if title is None:
                return "dict[str, Any]"
            self.object_class(title, schema, title_prefix(title))
            return str(title)
        if kind in SCALARS:
            return SCALARS[kind]
        return "Any"

    def object_class(
        self, name: str, schema: Schema, prefix: str, header: list[str] | None = None
    ) -> None:
        if name in self.classes:
            return
        self.classes[name] = []  # reserve: nested classes are rendered first
        body: list[str] = []
        properties: dict[str, Schema] = schema.get("properties", {})
        required = set(schema.get("required", []))
        for key in sorted(properties):
            field = properties[key]
            annotation = self.annotation(field, prefix, key)
            if key in required:
                body.append(f"    {key}: {annotation}")
            else:
                body.append(f"    {key}: {annotation} | None = None")
            body.extend(docstring(self.field_doc(field, key in required), "    "))
            body.append("")
        title = schema.get("title", name)
        lines = ["", "", "@attrs.frozen(kw_only=True)", f"class {name}:"]
        lines.extend(header or docstring(f"The ``{title}`` settings of a loader.", "    "))
        if body:
            lines.append("")
        lines.extend(body)
        self.classes[name] = lines[:-1] if body else lines
        self.order.append(name)

    @staticmethod
    def field_doc(schema: Schema, required: bool) -> str:
        text = schema.get("description", "").strip().rstrip(".") or "No description"
        parts = [text + "."]
        if "minimum" in schema and "maximum" in schema:
            parts.append(f"From {schema['minimum']} to {schema['maximum']}.")
        elif "minimum" in schema:
            parts.append(f"Minimum {schema['minimum']}.")
        items = schema.get("items", {})
        if "minItems" in schema and schema.get("minItems") == schema.get("maxItems"):
            parts.append(f"{schema['minItems']} items.")
        if "minimum" in items:
            parts.append(f"Each at least {items['minimum']}.")
        if "default" in schema:
            parts.append(f"Server default: ``{json.dumps(schema['default'])}``.")
        elif not required:
            parts.append("Optional.")
        return " ".join(parts)

    def render(self) -> str:
        for loader in self.loaders:
            name = class_name(loader)
            schema = loader["input_parameters_schema"] or {"type": "object", "properties": {}}
            extensions = ", ".join(f"``{ext}``" for ext in loader["extensions"])
            upload = "; takes uploads (binary)" if loader["binary"] else ""
            text = (
                f"Parameters of the ``{loader['name']}`` loader ({loader['plugin']}): files "
                f"{extensions}{upload}."
            )
            header = docstring(text, "    ")
            constants = [
                "",
                f"    LOADER_NAME: ClassVar[str] = {literal_value(loader['name'])}",
                f"    PLUGIN: ClassVar[str] = {literal_value(loader['plugin'])}",
                f"    EXTENSIONS: ClassVar[tuple[str, ...]] = {extension_tuple(loader)}",
                f"    BINARY: ClassVar[bool] = {loader['binary']}",
            ]
            self.object_class(name, schema, short_name(loader), header + constants)
            self.names[loader["name"]] = name
        return self.text()

    def text(self) -> str:
        out = [
            '"""Typed parameters of every Brayns 3.10 loader (generated: do not edit).',
            "",
            "Generated from ``brayns_trio/_data/loaders.json`` by ``scripts/generate_loaders.py``.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "from typing import ClassVar, Literal, TypeAlias",
            "",
            "import attrs",
            "",
            "__all__ = [",
        ]
        public = sorted([*self.aliases, *self.classes, "LOADER_CLASSES", "LoaderParams"])
        out.extend(f'    "{name}",' for name in sorted(public, key=lambda n: (n.upper() != n, n)))
        out.append("]")
        for name in sorted(self.aliases):
            out.extend(["", f"{name}: TypeAlias = Literal["])
            out.extend(f"    {literal_value(value)}," for value in self.aliases[name])
            out.append("]")
        for name in self.order:
            out.extend(self.classes[name])
        loader_classes = sorted(self.names.values())
        out.extend(["", "", "LoaderParams: TypeAlias = ("])
        out.extend(
            f"    {'| ' if index else ''}{name}" for index, name in enumerate(loader_classes)
        )
        out.append(")")
        out.append('"""The parameters of any loader: the class picks the loader."""')
        out.extend(["", "LOADER_CLASSES: dict[str, type[LoaderParams]] = {"])
        out.extend(f"    {literal_value(key)}: {value}," for key, value in self.names.items())
        out.append("}")
        out.append('"""Each loader name (as ``get-loaders`` lists it) -> its parameters class."""')
        text = "\n".join(out) + "\n"
        if "Any" in text.split("import attrs", 1)[1]:
            text = text.replace("from typing import ClassVar", "from typing import Any, ClassVar")
        return text


def generate(loaders: Sequence[Schema]) -> str:
    """The text of ``_loaders_generated.py`` for these loaders."""
    return Generator(loaders).render()


def load_inputs() -> list[Schema]:
    """Read the vendored loaders reference."""
    loaders: list[Schema] = json.loads(LOADERS_PATH.read_text("utf-8"))
    return loaders


def main(argv: Sequence[str] | None = None) -> int:
    """Write the generated module, or with ``--check`` exit 1 if the one on disk is stale."""
    return _generated_file.main(
        __doc__.split("\n\n")[0],
        OUTPUT_PATH,
        lambda: generate(load_inputs()),
        "scripts/generate_loaders.py",
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
