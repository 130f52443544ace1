"""Reads the NPY files of `cargo run --example export -- DIR` with numpy,
memory-mapped, and checks every field of every packet against the values the
example's workers compute, recomputed here.

Run: python tests/python/test_npy.py DIR   (plain asserts; exit 0 on success)
"""

import math
import sys
from pathlib import Path

import numpy as np

COUNT = 1000
OFFSET = np.float32(0.5)
f32 = np.float32


def load(path):
    array = np.load(path, mmap_mode="r")
    # Zero copies: a memory map of the file, and fields are views of it.
    assert isinstance(array, np.memmap), type(array)
    assert array.shape == (COUNT,), array.shape
    assert array.dtype.isalignedstruct is False
    return array


def quantize(v, levels):
    """Color3's quantization in f32: floor(clamp(v, 0, 1) * levels)."""
    v = np.clip(np.asarray(v, dtype=f32), f32(0), f32(1))
    return np.floor(v * f32(levels)).astype(np.int64)


def angle_to_code(angle):
    turn = math.fmod(angle + math.pi, math.tau)
    if turn < 0:
        turn += math.tau
    x = turn / math.tau * 65535.0
    # Rust rounds half away from zero (Python's round, half to even); x >= 0.
    return int(math.floor(x + 0.5))


def check_all_types(a, names):
    """`names` maps the tuple's positions to the file's field names."""
    n = lambda i: a[names[i]]
    ids = np.arange(COUNT)
    assert a.dtype.itemsize == 205
    assert np.array_equal(n(0), (ids % 256).astype(np.uint8))
    assert n(0).dtype == np.uint8
    assert np.array_equal(n(1), (-(ids.astype(np.int64))).astype(np.int8))
    assert n(1).dtype == np.int8
    assert np.array_equal(n(2), ids.astype(np.uint16)) and n(2).dtype == np.dtype("<u2")
    assert np.array_equal(n(3), (-ids).astype(np.int16)) and n(3).dtype == np.dtype("<i2")
    assert np.array_equal(n(4), (ids * ids).astype(np.uint32))
    assert np.array_equal(n(5), (-(ids * ids)).astype(np.int32))
    sqrt = np.array([math.sqrt(i) for i in range(COUNT)])
    assert np.array_equal(n(6), sqrt.astype(np.float32)) and n(6).dtype == np.dtype("<f4")
    assert np.array_equal(n(7), sqrt) and n(7).dtype == np.dtype("<f8")
    assert np.array_equal(n(8), ids % 2 == 0) and n(8).dtype == np.bool_
    label = n(9)
    texts = [f"task {i}".encode() for i in range(COUNT)]
    assert np.array_equal(label["len"], [len(t) for t in texts])
    assert list(label["bytes"]) == texts
    i = ids.astype(np.float64)
    assert np.array_equal(n(10)["x"], i)
    assert np.array_equal(n(10)["y"], -i)
    assert np.array_equal(n(10)["z"], np.full(COUNT, 0.5))
    assert np.array_equal(n(11)["x"], ids.astype(np.int16))
    assert np.array_equal(n(11)["y"], (-ids).astype(np.int16))
    assert np.array_equal(n(11)["z"], np.zeros(COUNT))
    angles = [k / 1000.0 * 2.0 * math.pi - math.pi for k in range(COUNT)]
    # cos and sin from two libms may differ in the last bit.
    assert np.allclose(n(12)["x"], [math.cos(x) for x in angles], rtol=0, atol=1e-15)
    assert np.allclose(n(12)["y"], [math.sin(x) for x in angles], rtol=0, atol=1e-15)
    assert np.array_equal(n(13)["x"], (-ids).astype(np.int16))
    assert np.array_equal(n(13)["y"], ids.astype(np.int16))
    frame = n(14)
    position = np.stack([i, i * 0.5, -i])
    rotation = np.stack([np.zeros(COUNT), angles, [-x for x in angles]])
    for k, axis in enumerate("xyz"):
        assert np.array_equal(frame["position"][axis], position[k])
        assert np.array_equal(frame["rotation"][axis], rotation[k])
        assert np.array_equal(n(15)["position"][axis], position[k].astype(np.float32))
        assert np.array_equal(n(15)["rotation"][axis], rotation[k].astype(np.float32))
        assert np.array_equal(n(16)["position"][axis], position[k].astype(np.float32))
        codes = [angle_to_code(x) for x in rotation[k]]
        assert np.array_equal(n(16)["angle_codes"][axis], codes), axis
    shade = (ids % 256).astype(np.float32) / f32(255)
    r, g, b = shade, f32(1) - shade, np.full(COUNT, f32(0.5))
    color = n(17)
    assert np.array_equal(color["r"], quantize(r, 255))
    assert np.array_equal(color["g"], quantize(g, 255))
    assert np.array_equal(color["b"], quantize(b, 255))
    bits = quantize(r, 31) << 11 | quantize(g, 63) << 5 | quantize(b, 31)
    assert np.array_equal(n(18), bits) and n(18).dtype == np.dtype("<u2")
    slot = n(19)
    assert np.array_equal(slot["len"], np.full(COUNT, 4))
    expected = np.zeros((COUNT, 16), dtype=np.uint8)
    expected[:, :4] = ids.astype("<u4").view(np.uint8).reshape(COUNT, 4)
    assert np.array_equal(slot["bytes"], expected)


def check_cells(a):
    ids = np.arange(COUNT)
    assert a.dtype.itemsize == 45
    assert a.dtype.names == ("height", "normal", "biome", "name", "color", "wet")
    assert np.array_equal(a["height"], ids.astype(np.float32) * f32(0.25) + OFFSET)
    assert np.array_equal(a["normal"]["x"], np.zeros(COUNT))
    assert np.array_equal(a["normal"]["y"], np.ones(COUNT))
    assert np.array_equal(a["normal"]["z"], ids / 3.0)
    biomes = np.array([0, 1, 2, 7], dtype=np.uint8)
    assert np.array_equal(a["biome"], biomes[ids % 4])
    names = [f"c{i}".encode() for i in range(COUNT)]
    assert np.array_equal(a["name"]["len"], [len(s) for s in names])
    assert list(a["name"]["bytes"]) == names
    shade = (ids % 256).astype(np.float32) / f32(255)
    assert np.array_equal(a["color"]["r"], quantize(shade, 255))
    assert np.array_equal(a["color"]["g"], np.zeros(COUNT))
    assert np.array_equal(a["color"]["b"], quantize(f32(1) - shade, 255))
    assert np.array_equal(a["wet"], ids % 3 == 0)


def main():
    directory = Path(sys.argv[1])
    tuple_names = [str(k) for k in range(20)]
    record_names = [
        "byte", "signed_byte", "short", "signed_short", "int", "signed_int",
        "single", "double", "even", "label", "position", "cell", "direction",
        "tile", "frame", "frame_f32", "frame18", "color", "color16", "bytes",
    ]
    check_all_types(load(directory / "all_types.npy"), tuple_names)
    check_all_types(load(directory / "all_types_named.npy"), record_names)
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
