"""Reads the NPY files of `cargo run --example export -- DIR` with numpy,
memory-mapped, and checks every field of every packet against the values the
example's workers compute, recomputed in expected.py.

Run: python tests/python/test_npy.py DIR   (plain asserts; exit 0 on success)
"""

import sys
from pathlib import Path

import numpy as np

from expected import COUNT, RECORD_NAMES, all_types, cells


def load(path):
    array = np.load(path, mmap_mode="r")
    # Zero copies: a memory map of the file, and fields are views of it.
    assert isinstance(array, np.memmap), type(array)
    assert array.shape == (COUNT,), array.shape
    assert array.dtype.isalignedstruct is False
    return array


def check_all_types(a, names):
    """`names` maps the tuple's positions to the file's field names."""
    n = lambda i: a[names[i]]
    e = all_types()
    assert a.dtype.itemsize == 205
    assert np.array_equal(n(0), e[0])
    assert n(0).dtype == np.uint8
    assert np.array_equal(n(1), e[1])
    assert n(1).dtype == np.int8
    assert np.array_equal(n(2), e[2]) and n(2).dtype == np.dtype("<u2")
    assert np.array_equal(n(3), e[3]) and n(3).dtype == np.dtype("<i2")
    assert np.array_equal(n(4), e[4])
    assert np.array_equal(n(5), e[5])
    assert np.array_equal(n(6), e[6]) and n(6).dtype == np.dtype("<f4")
    assert np.array_equal(n(7), e[7]) and n(7).dtype == np.dtype("<f8")
    assert np.array_equal(n(8), e[8]) and n(8).dtype == np.bool_
    label = n(9)
    assert np.array_equal(label["len"], [len(t) for t in e[9]])
    assert list(label["bytes"]) == e[9]
    for k in [10, 11]:
        for axis in "xyz":
            assert np.array_equal(n(k)[axis], e[k][axis]), (k, axis)
    # cos and sin from two libms may differ in the last bit.
    assert np.allclose(n(12)["x"], e[12]["x"], rtol=0, atol=1e-15)
    assert np.allclose(n(12)["y"], e[12]["y"], rtol=0, atol=1e-15)
    assert np.array_equal(n(13)["x"], e[13]["x"])
    assert np.array_equal(n(13)["y"], e[13]["y"])
    frame = n(14)
    for axis in "xyz":
        assert np.array_equal(frame["position"][axis], e[14]["position"][axis])
        assert np.array_equal(frame["rotation"][axis], e[14]["rotation"][axis])
        assert np.array_equal(n(15)["position"][axis], e[15]["position"][axis])
        assert np.array_equal(n(15)["rotation"][axis], e[15]["rotation"][axis])
        assert np.array_equal(n(16)["position"][axis], e[16]["position"][axis])
        codes = e[16]["angle_codes"][axis]
        assert np.array_equal(n(16)["angle_codes"][axis], codes), axis
    color = n(17)
    assert np.array_equal(color["r"], e[17]["r"])
    assert np.array_equal(color["g"], e[17]["g"])
    assert np.array_equal(color["b"], e[17]["b"])
    assert np.array_equal(n(18), e[18]) and n(18).dtype == np.dtype("<u2")
    slot = n(19)
    assert np.array_equal(slot["len"], e[19]["len"])
    assert np.array_equal(slot["bytes"], e[19]["bytes"])


def check_cells(a):
    e = cells()
    assert a.dtype.itemsize == 45
    assert a.dtype.names == ("height", "normal", "biome", "name", "color", "wet")
    assert np.array_equal(a["height"], e["height"])
    assert np.array_equal(a["normal"]["x"], e["normal"]["x"])
    assert np.array_equal(a["normal"]["y"], e["normal"]["y"])
    assert np.array_equal(a["normal"]["z"], e["normal"]["z"])
    assert np.array_equal(a["biome"], e["biome"])
    assert np.array_equal(a["name"]["len"], [len(s) for s in e["name"]])
    assert list(a["name"]["bytes"]) == e["name"]
    assert np.array_equal(a["color"]["r"], e["color"]["r"])
    assert np.array_equal(a["color"]["g"], e["color"]["g"])
    assert np.array_equal(a["color"]["b"], e["color"]["b"])
    assert np.array_equal(a["wet"], e["wet"])


def main():
    directory = Path(sys.argv[1])
    tuple_names = [str(k) for k in range(20)]
    check_all_types(load(directory / "all_types.npy"), tuple_names)
    check_all_types(load(directory / "all_types_named.npy"), RECORD_NAMES)
    cells = load(directory / "cells.npy")
    check_cells(cells)
    streamed = load(directory / "cells_streamed.npy")
    check_cells(streamed)
    assert np.array_equal(streamed, cells)
    # The packet bytes start at a multiple of 64 bytes, and are the mapped array's.
    for name in ["all_types.npy", "all_types_named.npy", "cells.npy"]:
        array = load(directory / name)
        assert array.offset % 64 == 0, (name, array.offset)
        size = (directory / name).stat().st_size
        assert size == array.offset + array.nbytes
    # A field is a view into the mapped file: no copy of the packet bytes.
    height = cells["height"]
    assert not height.flags.owndata and height.strides == (45,)
    print("numpy", np.__version__, ": all NPY files match the workers' values")


if __name__ == "__main__":
    main()
