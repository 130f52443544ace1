"""Reads the Arrow IPC files of `cargo run --example export -- DIR` with
pyarrow, Polars, pandas and DuckDB, and checks every field of every packet
against the values the example's workers compute, recomputed in expected.py
(as test_npy.py checks the NPY files).

Run: python tests/python/test_arrow.py DIR   (plain asserts; exit 0 on success)
"""

import re
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.ipc

from expected import BIOME_NAMES, BIOME_VALUES, COUNT, RECORD_NAMES, all_types, cells


def field(name, data_type):
    return pa.field(name, data_type, nullable=False)


def struct(parts):
    return pa.struct([field(name, data_type) for name, data_type in parts])


def xyz(data_type):
    return struct([(axis, data_type) for axis in "xyz"])


def xy(data_type):
    return struct([(axis, data_type) for axis in "xy"])


# The Arrow type of each field of the all-types packet, by position.
ALL_TYPES = [
    pa.uint8(), pa.int8(), pa.uint16(), pa.int16(), pa.uint32(), pa.int32(),
    pa.float32(), pa.float64(), pa.bool_(), pa.string(),
    xyz(pa.float64()), xyz(pa.int16()), xy(pa.float64()), xy(pa.int16()),
    struct([("position", xyz(pa.float64())), ("rotation", xyz(pa.float64()))]),
    struct([("position", xyz(pa.float32())), ("rotation", xyz(pa.float32()))]),
    struct([("position", xyz(pa.float32())), ("angle_codes", xyz(pa.uint16()))]),
    struct([("r", pa.uint8()), ("g", pa.uint8()), ("b", pa.uint8())]),
    pa.uint16(), pa.binary(),
]

CELL_TYPES = {
    "height": pa.float32(),
    "normal": xyz(pa.float64()),
    # Keyed by the discriminant's width; the values are the variants' names.
    "biome": pa.dictionary(pa.uint8(), pa.string()),
    "name": pa.string(),
    "color": struct([("r", pa.uint8()), ("g", pa.uint8()), ("b", pa.uint8())]),
    "wet": pa.bool_(),
}


def flat(tree, path=()):
    """{path: leaf} for a dict of nested dicts."""
    if not isinstance(tree, dict):
        return {path: tree}
    out = {}
    for name, value in tree.items():
        out.update(flat(value, path + (str(name),)))
    return out


def expected_all_types(names):
    """The all-types values as Arrow holds them, by path: the string slot as
    its text, the byte slot as its first `len` bytes."""
    e = all_types()
    e[9] = [text.decode() for text in e[9]]
    e[19] = [bytes(row[:n]) for row, n in zip(e[19]["bytes"], e[19]["len"])]
    return flat({names[k]: e[k] for k in range(20)})


def expected_cells():
    """The Cell values as Arrow holds them, by path: the biome as its
    variant's name, the name as its text."""
    e = cells()
    e["biome"] = [BIOME_NAMES[BIOME_VALUES.index(v)] for v in e["biome"]]
    e["name"] = [text.decode() for text in e["name"]]
    return flat(e)


def check(found, expected, reader):
    """Every expected leaf, and nothing else, is in `found` with its values."""
    assert list(found) == list(expected), (reader, list(found), list(expected))
    for path, values in expected.items():
        got = found[path]
        where = (reader, ".".join(path))
        if isinstance(values, list) and isinstance(values[0], (str, bytes)):
            got = [bytes(v) if isinstance(v, (bytearray, memoryview)) else v for v in got]
            assert got == values, where
            continue
        got = np.asarray(got)
        assert got.shape == (COUNT,), where
        if path[0] in ("12", "direction"):
            # cos and sin from two libms may differ in the last bit.
            assert np.allclose(got, values, rtol=0, atol=1e-15), where
        else:
            assert np.array_equal(got, values), where


def read_pyarrow(path):
    with pa.ipc.open_file(path) as reader:
        assert reader.num_record_batches == 1
        table = reader.read_all()
    assert table.num_rows == COUNT
    return table


def flatten_pyarrow(table):
    out = {}

    def walk(path, array):
        kind = array.type
        if pa.types.is_struct(kind):
            for k, child in enumerate(array.flatten()):
                walk(path + (kind.field(k).name,), child)
        elif pa.types.is_dictionary(kind):
            out[path] = array.dictionary_decode().to_pylist()
        elif pa.types.is_string(kind) or pa.types.is_binary(kind):
            out[path] = array.to_pylist()
        else:
            out[path] = array.to_numpy(zero_copy_only=False)

    for name in table.column_names:
        walk((name,), table.column(name).combine_chunks())
    return out


def flatten_polars(frame):
    out = {}

    def walk(path, series):
        kind = series.dtype
        if isinstance(kind, pl.Struct):
            for part in kind.fields:
                walk(path + (part.name,), series.struct.field(part.name))
        elif isinstance(kind, (pl.Categorical, pl.Enum)):
            out[path] = series.cast(pl.String).to_list()
        elif kind in (pl.String, pl.Binary):
            out[path] = series.to_list()
        else:
            out[path] = series.to_numpy()

    for name in frame.columns:
        walk((name,), frame[name])
    return out


def flatten_pandas(frame):
    out = {}

    def walk(path, values):
        first = values[0]
        if isinstance(first, dict):
            for key in first:
                walk(path + (key,), [value[key] for value in values])
        elif isinstance(values, pd.Series) and values.dtype == "category":
            out[path] = values.astype(object).tolist()
        elif isinstance(values, pd.Series):
            out[path] = values.tolist() if values.dtype == object else values.to_numpy()
        else:
            out[path] = values

    for name in frame.columns:
        walk((name,), frame[name])
    return out


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def flatten_duckdb(table, paths):
    """Every leaf at `paths`, selected by DuckDB from the pyarrow table."""
    connection = duckdb.connect()
    connection.register("packets", table)
    columns = []
    for path in paths:
        column = quote(path[0])
        for part in path[1:]:
            column = f"struct_extract({column}, '{part}')"
        columns.append(column)
    select = ", ".join(f"{column} AS c{k}" for k, column in enumerate(columns))
    result = connection.sql(f"SELECT {select} FROM packets").fetchnumpy()
    out = {path: result[f"c{k}"] for k, path in enumerate(paths)}
    # Leaves that are text or bytes come back as object arrays: as lists.
    for path, values in out.items():
        if values.dtype == object:
            out[path] = list(values)
    return out, connection


def check_task(schema, task):
    """The task name in the schema's metadata; `None`: no task key at all
    (a file converted with no Rust type records no task name)."""
    if task is None:
        assert b"parallelizer.task" not in schema.metadata, schema.metadata
    else:
        assert schema.metadata[b"parallelizer.task"] == task.encode()


def check_all_types(path, names, task):
    table = read_pyarrow(path)
    schema = table.schema
    assert schema.names == names, schema.names
    assert [f.type for f in schema] == ALL_TYPES, schema
    assert not any(f.nullable for f in schema)
    check_task(schema, task)
    assert re.fullmatch(rb"[0-9a-f]{16}", schema.metadata[b"parallelizer.fingerprint"])
    expected = expected_all_types(names)
    check(flatten_pyarrow(table), expected, "pyarrow")

    frame = pl.read_ipc(path)
    assert frame.columns == names and frame.height == COUNT
    assert frame.dtypes[:10] == [
        pl.UInt8, pl.Int8, pl.UInt16, pl.Int16, pl.UInt32, pl.Int32,
        pl.Float32, pl.Float64, pl.Boolean, pl.String,
    ], frame.dtypes
    assert frame.dtypes[19] == pl.Binary
    check(flatten_polars(frame), expected, "polars")

    frame = pd.read_feather(path)
    assert list(frame.columns) == names and len(frame) == COUNT
    assert [str(t) for t in frame.dtypes[:9]] == [
        "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64", "bool",
    ], frame.dtypes
    check(flatten_pandas(frame), expected, "pandas")

    found, connection = flatten_duckdb(table, list(expected))
    check(found, expected, "duckdb")
    # And a query: DuckDB reads the struct columns' parts by name.
    even, frame = quote(names[8]), quote(names[14])
    sql = f"SELECT count(*) FROM packets WHERE {even} AND {frame}.position.x > 500"
    count = sum(1 for k in range(COUNT) if k % 2 == 0 and k > 500)
    assert connection.sql(sql).fetchall() == [(count,)]


def check_cells(path, task="Terrain"):
    table = read_pyarrow(path)
    schema = table.schema
    assert schema.names == list(CELL_TYPES), schema.names
    assert [f.type for f in schema] == list(CELL_TYPES.values()), schema
    check_task(schema, task)
    # The dictionary is every variant, in declaration order.
    biome = table.column("biome").combine_chunks()
    assert biome.dictionary.to_pylist() == BIOME_NAMES
    assert biome.indices.to_pylist()[:5] == [0, 1, 2, 3, 0]
    expected = expected_cells()
    check(flatten_pyarrow(table), expected, "pyarrow")

    frame = pl.read_ipc(path)
    assert frame.columns == list(CELL_TYPES) and frame.height == COUNT
    assert frame["height"].dtype == pl.Float32 and frame["wet"].dtype == pl.Boolean
    assert isinstance(frame["biome"].dtype, (pl.Categorical, pl.Enum)), frame["biome"].dtype
    assert frame.filter(pl.col("biome") == "Mountain").height == COUNT // 4
    check(flatten_polars(frame), expected, "polars")

    frame = pd.read_feather(path)
    assert list(frame.columns) == list(CELL_TYPES) and len(frame) == COUNT
    assert frame["biome"].dtype == "category"
    assert list(frame["biome"].cat.categories) == BIOME_NAMES
    check(flatten_pandas(frame), expected, "pandas")

    found, connection = flatten_duckdb(table, list(expected))
    check(found, expected, "duckdb")
    counts = connection.sql(
        "SELECT biome, count(*), sum(wet::INTEGER) FROM packets GROUP BY biome ORDER BY biome"
    ).fetchall()
    wet = {name: 0 for name in BIOME_NAMES}
    for k in range(COUNT):
        wet[BIOME_NAMES[k % 4]] += k % 3 == 0
    assert counts == [(name, COUNT // 4, wet[name]) for name in sorted(BIOME_NAMES)], counts


def main():
    directory = Path(sys.argv[1])
    # `--untyped`: files that `parallelizer convert` wrote from results files,
    # with no Rust type: the same columns, and no task name (no
    # `parallelizer.task` key in the metadata).
    untyped = sys.argv[2:] == ["--untyped"]
    tuple_names = [str(k) for k in range(20)]
    check_all_types(directory / "all_types.arrow", tuple_names, None if untyped else "Everything")
    check_all_types(
        directory / "all_types_named.arrow", RECORD_NAMES, None if untyped else "EverythingNamed"
    )
    check_cells(directory / "cells.arrow", None if untyped else "Terrain")
    print(
        f"pyarrow {pa.__version__}, polars {pl.__version__}, pandas {pd.__version__}, "
        f"duckdb {duckdb.__version__}: all Arrow files match the workers' values"
    )


if __name__ == "__main__":
    main()
