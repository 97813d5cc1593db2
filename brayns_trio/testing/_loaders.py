"""File readers of the fake server's core loaders: meshes (OBJ, PLY, STL, OFF) and volumes.

They return plain data (vertex positions and triangle indices, volume dimensions) and raise
:class:`LoadError` with the real braynsService 3.10.1 messages, as recorded in the conformance
corpus (``Parsing error at line N: '...'. Line content: '...'``).

Recorded rules reproduced here (case names from ``tests/conformance/corpus.jsonl``):

- an OBJ without vertices or faces fails with "No meshes found" on the line after the last one
  (``loader/add-model-corrupt-obj``, ``loader/add-model-empty-obj``);
- the ASCII STL reader expects another ``facet normal`` line where ``endsolid`` stands, so every
  ASCII STL fails (``loader/add-model-stl``, ``upload/stl``);
- a PLY header is checked line by line (``loader/add-model-corrupt-ply``,
  ``upload/unknown-type``);
- extensions are case-sensitive and given without a dot (``upload/unknown-type``);
- a raw volume whose size does not match its dimensions and type fails with "Data size and
  expected size mismatch" (``loader/add-model-raw-volume-size-mismatch``).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LoadError", "Mesh", "Volume", "parse_mesh", "parse_mhd", "parse_raw_volume"]

MESH_EXTENSIONS = ("off", "stl", "ply", "obj")
VOXEL_SIZES = {
    "unsinged_char": 1,  # sic: the loader's own enum
    "short": 2,
    "unsigned_short": 2,
    "half_float": 2,
    "float": 4,
    "double": 8,
}
MHD_TYPES = {
    "MET_UCHAR": "unsinged_char",
    "MET_SHORT": "short",
    "MET_USHORT": "unsigned_short",
    "MET_FLOAT": "float",
    "MET_DOUBLE": "double",
}


class LoadError(Exception):
    """A file the loader refuses; ``str(error)`` is the real server's message."""


@dataclass
class Mesh:
    """A triangle mesh: ``vertices`` are XYZ positions, ``triangles`` index triples into them."""

    vertices: list[list[float]] = field(default_factory=list)
    triangles: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass
class Volume:
    """A regular grid of voxels: ``dimensions`` in voxels, ``spacing`` in world units."""

    dimensions: list[int]
    spacing: list[float]
    data_type: str


def _parsing_error(number: int, message: str, line: str) -> LoadError:
    return LoadError(f"Parsing error at line {number}: '{message}'. Line content: '{line}'")


def _lines(data: bytes) -> list[str]:
    # One entry per line, the text after the last newline included (empty for a final newline).
    return data.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")


def _floats(words: Sequence[str], number: int, line: str) -> list[float]:
    try:
        return [float(word) for word in words]
    except ValueError:
        raise _parsing_error(number, "Invalid number", line) from None


def _fan(indices: Sequence[int]) -> list[tuple[int, int, int]]:
    return [(indices[0], indices[i], indices[i + 1]) for i in range(1, len(indices) - 1)]


def parse_mesh(data: bytes, extension: str) -> Mesh:
    """Parse mesh file bytes of the given extension (case-sensitive, without a dot)."""
    if extension not in MESH_EXTENSIONS:
        raise LoadError(f"Mesh format extension not supported: '{extension}'")
    parser = {"obj": _parse_obj, "off": _parse_off, "stl": _parse_stl, "ply": _parse_ply}
    mesh = parser[extension](data)
    if not mesh.vertices or not mesh.triangles:
        lines = _lines(data)
        raise _parsing_error(len(lines), "No meshes found", lines[-1])
    return mesh


def _parse_obj(data: bytes) -> Mesh:
    mesh = Mesh()
    for number, line in enumerate(_lines(data), 1):
        words = line.split()
        if not words:
            continue
        if words[0] == "v" and len(words) >= 4:
            mesh.vertices.append(_floats(words[1:4], number, line))
        elif words[0] == "f" and len(words) >= 4:
            indices = []
            for word in words[1:]:
                try:
                    index = int(word.split("/")[0])
                except ValueError:
                    raise _parsing_error(number, "Invalid face", line) from None
                indices.append(index - 1 if index > 0 else len(mesh.vertices) + index)
            if any(not 0 <= i < len(mesh.vertices) for i in indices):
                raise _parsing_error(number, "Invalid vertex index", line)
            mesh.triangles += _fan(indices)
    return mesh


def _parse_off(data: bytes) -> Mesh:
    rows = [
        (number, line, line.split())
        for number, line in enumerate(_lines(data), 1)
        if line.split() and not line.lstrip().startswith("#")
    ]
    if not rows or not rows[0][2][0].endswith("OFF"):
        number, line = (rows[0][0], rows[0][1]) if rows else (1, "")
        raise _parsing_error(number, "Invalid OFF header", line)
    header = rows[0][2][1:]
    body = rows[1:]
    if not header:
        if not body:
            raise _parsing_error(rows[0][0] + 1, "Missing OFF counts", "")
        header, body = body[0][2], body[1:]
    try:
        vertex_count, face_count = int(header[0]), int(header[1])
    except (ValueError, IndexError):
        raise _parsing_error(rows[0][0], "Invalid OFF counts", rows[0][1]) from None
    mesh = Mesh()
    for number, line, words in body[:vertex_count]:
        mesh.vertices.append(_floats(words[:3], number, line))
    for number, line, words in body[vertex_count : vertex_count + face_count]:
        try:
            count = int(words[0])
            indices = [int(w) for w in words[1 : 1 + count]]
        except (ValueError, IndexError):
            raise _parsing_error(number, "Invalid face", line) from None
        if any(not 0 <= i < len(mesh.vertices) for i in indices):
            raise _parsing_error(number, "Invalid vertex index", line)
        mesh.triangles += _fan(indices)
    return mesh


def _parse_stl(data: bytes) -> Mesh:
    if len(data) >= 84 and not data.lstrip().startswith(b"solid"):
        (count,) = struct.unpack_from("<I", data, 80)
        if 84 + 50 * count == len(data):
            mesh = Mesh()
            for i in range(count):
                values = struct.unpack_from("<12f", data, 84 + 50 * i)
                base = len(mesh.vertices)
                mesh.vertices += [list(values[3:6]), list(values[6:9]), list(values[9:12])]
                mesh.triangles.append((base, base + 1, base + 2))
            return mesh
    lines = _lines(data)
    rows = [(number, line, line.split()) for number, line in enumerate(lines, 1) if line.split()]
    if not rows or rows[0][2][0] != "solid":
        number, line = (rows[0][0], rows[0][1]) if rows else (1, "")
        raise _parsing_error(number, "Invalid STL header", line)
    mesh = Mesh()
    index = 1
    # The real reader loops on facets until the end of the file; it never accepts `endsolid`.
    while index < len(rows):
        number, line, words = rows[index]
        if len(words) != 5:
            raise _parsing_error(
                number, f"Invalid normal, expected 5 tokens, got {len(words)}", line
            )
        vertices = rows[index + 2 : index + 5]
        if len(vertices) != 3 or any(len(w) != 4 for _, _, w in vertices):
            number, line = rows[-1][0], rows[-1][1]
            raise _parsing_error(number, "Invalid vertex, expected 4 tokens", line)
        base = len(mesh.vertices)
        for number, line, words in vertices:
            mesh.vertices.append(_floats(words[1:4], number, line))
        mesh.triangles.append((base, base + 1, base + 2))
        index += 7
    return mesh


_PLY_TYPES = {
    "char": "b",
    "uchar": "B",
    "int8": "b",
    "uint8": "B",
    "short": "h",
    "ushort": "H",
    "int16": "h",
    "uint16": "H",
    "int": "i",
    "uint": "I",
    "int32": "i",
    "uint32": "I",
    "float": "f",
    "float32": "f",
    "double": "d",
    "float64": "d",
}


def _parse_ply(data: bytes) -> Mesh:
    lines = _lines(data)
    if lines[0].strip() != "ply":
        raise _parsing_error(
            1, "Failed to parse header: Expected 'ply' magic number", lines[0].strip()
        )
    if len(lines) < 2 or not lines[1].startswith("format "):
        line = lines[1] if len(lines) > 1 else ""
        raise _parsing_error(
            2, "Failed to parse header: Expected format definition after magic number", line
        )
    fmt = lines[1].split()[1]
    elements: list[tuple[str, int, list[list[str]]]] = []
    end = None
    for number, line in enumerate(lines[2:], 3):
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "end_header":
            end = number
            break
        if words[0] == "element" and len(words) == 3 and words[2].isdigit():
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property" and elements:
            elements[-1][2].append(words[1:])
        else:
            raise _parsing_error(number, "Failed to parse header: Unknown keyword", line)
    if end is None:
        raise _parsing_error(len(lines), "Failed to parse header: Missing end_header", lines[-1])
    mesh = Mesh()
    if fmt == "ascii":
        rows = [(n, line.split()) for n, line in enumerate(lines[end:], end + 1) if line.split()]
        index = 0
        for name, count, properties in elements:
            for number, row in rows[index : index + count]:
                _ply_row(mesh, name, properties, row, number, " ".join(row))
            index += count
        return mesh
    order = "<" if "little" in fmt else ">"
    offset = data.index(b"end_header") + len(b"end_header")
    offset = data.index(b"\n", offset) + 1
    try:
        for name, count, properties in elements:
            for _ in range(count):
                values: list[str] = []
                for prop in properties:
                    if prop[0] == "list":
                        (length,) = struct.unpack_from(order + _PLY_TYPES[prop[1]], data, offset)
                        offset += struct.calcsize(_PLY_TYPES[prop[1]])
                        code = _PLY_TYPES[prop[2]]
                        items = struct.unpack_from(f"{order}{length}{code}", data, offset)
                        offset += length * struct.calcsize(code)
                        values += [str(length), *map(str, items)]
                    else:
                        code = _PLY_TYPES[prop[0]]
                        (value,) = struct.unpack_from(order + code, data, offset)
                        offset += struct.calcsize(code)
                        values.append(str(value))
                _ply_row(mesh, name, properties, values, end, "")
    except (struct.error, KeyError):
        raise _parsing_error(end, "Invalid binary body", "") from None
    return mesh


def _ply_row(
    mesh: Mesh, name: str, properties: list[list[str]], row: list[str], number: int, line: str
) -> None:
    if name == "vertex":
        names = [p[-1] for p in properties]
        try:
            mesh.vertices.append([float(row[names.index(axis)]) for axis in "xyz"])
        except (ValueError, IndexError):
            raise _parsing_error(number, "Invalid vertex", line) from None
    elif name == "face" and row:
        try:
            count = int(row[0])
            indices = [int(w) for w in row[1 : 1 + count]]
        except ValueError:
            raise _parsing_error(number, "Invalid face", line) from None
        if any(not 0 <= i < len(mesh.vertices) for i in indices):
            raise _parsing_error(number, "Invalid vertex index", line)
        mesh.triangles += _fan(indices)


def parse_raw_volume(data: bytes, properties: dict[str, Any]) -> Volume:
    """Check raw voxel bytes against the raw-volume loader's properties."""
    dimensions = [int(d) for d in properties["dimensions"]]
    expected = dimensions[0] * dimensions[1] * dimensions[2] * VOXEL_SIZES[properties["data_type"]]
    if expected != len(data):
        raise LoadError("Data size and expected size mismatch")
    return Volume(dimensions, [float(s) for s in properties["spacing"]], properties["data_type"])


def parse_mhd(path: Path) -> tuple[Path, dict[str, Any]]:
    """Read a MetaImage header: the raw data file and the raw-volume properties it implies."""
    fields: dict[str, str] = {}
    for line in path.read_text("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    try:
        dimensions = [int(v) for v in fields["DimSize"].split()]
        spacing = [float(v) for v in fields.get("ElementSpacing", "1 1 1").split()]
        data_type = MHD_TYPES[fields["ElementType"]]
        data_file = path.parent / fields["ElementDataFile"]
    except (KeyError, ValueError):
        raise LoadError(f"Invalid MHD file {path}") from None
    properties = {"data_type": data_type, "dimensions": dimensions, "spacing": spacing}
    return data_file, properties
