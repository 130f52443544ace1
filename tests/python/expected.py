"""The values that the workers of `examples/export.rs` compute, recomputed
here in Python: what test_npy.py and test_arrow.py check the files against.
"""

import math

import numpy as np

COUNT = 1000
OFFSET = np.float32(0.5)
f32 = np.float32

# The Cell packet's `Biome` enum: its variants in declaration order, and
# their discriminants.
BIOME_NAMES = ["Ocean", "Plains", "Forest", "Mountain"]
BIOME_VALUES = [0, 1, 2, 7]


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


def all_types():
    """The all-types packet's twenty fields, by position: numbers as arrays,
    structs as dicts of their parts, the string slot (9) as its UTF-8 bytes,
    the byte slot (19) as its `len` and its 16 bytes.

    Field 12 (`Vec2` of a cosine and a sine) matches within 1e-15 only: cos
    and sin from two libms may differ in the last bit.
    """
    ids = np.arange(COUNT)
    i = ids.astype(np.float64)
    sqrt = np.array([math.sqrt(k) for k in range(COUNT)])
    angles = [k / 1000.0 * 2.0 * math.pi - math.pi for k in range(COUNT)]
    position = np.stack([i, i * 0.5, -i])
    rotation = np.stack([np.zeros(COUNT), angles, [-x for x in angles]])
    xyz = "xyz"
    shade = (ids % 256).astype(np.float32) / f32(255)
    r, g, b = shade, f32(1) - shade, np.full(COUNT, f32(0.5))
    slot = np.zeros((COUNT, 16), dtype=np.uint8)
    slot[:, :4] = ids.astype("<u4").view(np.uint8).reshape(COUNT, 4)
    return {
        0: (ids % 256).astype(np.uint8),
        1: (-(ids.astype(np.int64))).astype(np.int8),
        2: ids.astype(np.uint16),
        3: (-ids).astype(np.int16),
        4: (ids * ids).astype(np.uint32),
        5: (-(ids * ids)).astype(np.int32),
        6: sqrt.astype(np.float32),
        7: sqrt,
        8: ids % 2 == 0,
        9: [f"task {k}".encode() for k in range(COUNT)],
        10: {"x": i, "y": -i, "z": np.full(COUNT, 0.5)},
        11: {"x": ids.astype(np.int16), "y": (-ids).astype(np.int16), "z": np.zeros(COUNT)},
        12: {"x": [math.cos(x) for x in angles], "y": [math.sin(x) for x in angles]},
        13: {"x": (-ids).astype(np.int16), "y": ids.astype(np.int16)},
        14: {
            "position": {a: position[k] for k, a in enumerate(xyz)},
            "rotation": {a: rotation[k] for k, a in enumerate(xyz)},
        },
        15: {
            "position": {a: position[k].astype(np.float32) for k, a in enumerate(xyz)},
            "rotation": {a: rotation[k].astype(np.float32) for k, a in enumerate(xyz)},
        },
        16: {
            "position": {a: position[k].astype(np.float32) for k, a in enumerate(xyz)},
            "angle_codes": {
                a: [angle_to_code(x) for x in rotation[k]] for k, a in enumerate(xyz)
            },
        },
        17: {"r": quantize(r, 255), "g": quantize(g, 255), "b": quantize(b, 255)},
        18: quantize(r, 31) << 11 | quantize(g, 63) << 5 | quantize(b, 31),
        19: {"len": np.full(COUNT, 4), "bytes": slot},
    }


# The all-types fields' names in the named twin (the struct `Record`).
RECORD_NAMES = [
    "byte", "signed_byte", "short", "signed_short", "int", "signed_int",
    "single", "double", "even", "label", "position", "cell", "direction",
    "tile", "frame", "frame_f32", "frame18", "color", "color16", "bytes",
]


def cells():
    """The `Cell` packet's fields, by name: `biome` as its discriminants,
    `name` as its UTF-8 bytes, structs as dicts of their parts."""
    ids = np.arange(COUNT)
    shade = (ids % 256).astype(np.float32) / f32(255)
    return {
        "height": ids.astype(np.float32) * f32(0.25) + OFFSET,
        "normal": {"x": np.zeros(COUNT), "y": np.ones(COUNT), "z": ids / 3.0},
        "biome": np.array(BIOME_VALUES, dtype=np.uint8)[ids % 4],
        "name": [f"c{k}".encode() for k in range(COUNT)],
        "color": {
            "r": quantize(shade, 255),
            "g": np.zeros(COUNT),
            "b": quantize(f32(1) - shade, 255),
        },
        "wet": ids % 3 == 0,
    }
