"""Micrographs, label images, masks, class tables and labelled data-set folders in the fuzzer.

``micrograph``
    One image file (TIFF grey/RGB, 8/16-bit, float, deflate; PNG grey 16-bit and RGB; JPEG)
    read by ``read_micrograph`` as ``sem info FILE`` does.
``semlabel``
    One label image (palette PNG, grey PNG, RGB PNG whose channels are equal, RGB PNG coded
    with the class colours, TIFF) read by ``read_label`` with a four-class table, then as an
    object mask by ``read_mask``.
``semset``
    A labelled folder (``classes.json``, ``images/``, ``labels/``, ``masks/``, ``objects/*.csv``,
    split lists) stored as one byte string: each file after a line ``@@@ <relative path>``
    (:func:`pack` / :func:`unpack`), so byte mutators and the minimiser work on the folder as a
    whole. The target opens it (``open_dataset``, what ``sem info DIR`` does) and loads every
    sample with its truth objects, as training and evaluation do.

"Garbage accepted" checks: a micrograph is (H, W) or (H, W, 3), 1…MAX_PIXELS px, decodes to no
more bytes than its file holds at the best DEFLATE ratio (1032), float pixels are finite, the
pixel size is absent or within 1e-6…1e6 µm and ``to_grey`` gives (H, W). A label image is
(H, W) uint8 with indices below the class count or 255; a mask is (H, W) bool. A data set has
2…127 distinct class names with distinct colours, splits that name only its samples, truth
of the image's size, truth classes within −1…n−1, and a summary that is valid JSON.
"""

from __future__ import annotations

import functools
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np

SEM_FORMATS = ("micrograph", "semlabel", "semset")
BEST_RATIO = 1032
PIXEL_SIZE_UM = (1e-6, 1e6)
MARK = b"@@@ "
_MEMBER = re.compile(rb"(?:^|\n)@@@ ([^\n]*)\n")
CLASS_NAMES = ("matrix", "ferrite", "pearlite", "martensite")
COLOURS = ((150, 150, 150), (230, 40, 40), (40, 180, 60), (40, 100, 240))


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def _classes():
    from engines.sem.labels import ClassTable

    return ClassTable.from_names(CLASS_NAMES, COLOURS)


# --------------------------------------------------------------------------- seeds

def _labels(shape=(30, 36)) -> np.ndarray:
    y, x = np.indices(shape)
    labels = ((x // 9 + y // 10) % 4).astype(np.uint8)
    labels[:3, :4] = 255  # unlabelled pixels
    return labels


def _image(labels: np.ndarray, dtype=np.uint8) -> np.ndarray:
    levels = np.array([40, 110, 170, 230] + [0] * 251 + [90])
    image = levels[labels] + (np.indices(labels.shape).sum(axis=0) % 7)
    if dtype == np.uint16:
        return (image * 250).astype(np.uint16)
    if dtype == np.float32:
        return (image / 255.0).astype(np.float32)
    return image.astype(dtype)


def _png(array: np.ndarray, **options) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=options.pop("format", "PNG"), **options)
    return buffer.getvalue()


def _tiff(array: np.ndarray, **options) -> bytes:
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, **options)
    return buffer.getvalue()


def _palette_png(labels: np.ndarray) -> bytes:
    import tempfile

    from engines.sem.writers import write_label_png

    with tempfile.TemporaryDirectory() as folder:
        return write_label_png(Path(folder) / "l.png", labels, COLOURS).read_bytes()


def pack(files: dict[str, bytes]) -> bytes:
    """The files of a folder as one byte string (``@@@ name`` lines before each)."""
    return b"".join(MARK + name.encode() + b"\n" + data + b"\n" for name, data in files.items())


@functools.cache
def sem_seeds(fmt: str) -> tuple[tuple[str, bytes], ...]:
    """Seed files of a sem format as ``((suffix, data), ...)``."""
    labels = _labels()
    grey = _image(labels)
    rgb = np.stack([grey, np.flipud(grey), 255 - grey], axis=2)
    resolution = {"resolution": (1e4 / 0.05, 1e4 / 0.05), "resolutionunit": "CENTIMETER"}
    if fmt == "micrograph":
        return ((".tif", _tiff(grey, photometric="minisblack", **resolution)),
                (".tif", _tiff(_image(labels, np.uint16), compression="zlib")),
                (".tif", _tiff(rgb, photometric="rgb")),
                (".tif", _tiff(_image(labels, np.float32), photometric="minisblack")),
                (".png", _png(_image(labels, np.uint16), dpi=(508000, 508000))),
                (".png", _png(rgb)),
                (".jpg", _png(grey, format="JPEG", quality=90)))
    if fmt == "semlabel":
        index = np.where(labels == 255, 0, labels)
        coded = np.asarray(COLOURS, dtype=np.uint8)[index]
        return ((".png", _palette_png(labels)), (".png", _png(labels)),
                (".png", _png(np.repeat(labels[:, :, None], 3, axis=2))),
                (".png", _png(coded)), (".tif", _tiff(labels, photometric="minisblack")),
                (".png", _png(np.where(index > 1, 255, 0).astype(np.uint8))))
    if fmt == "semset":
        other = np.ascontiguousarray(labels[:, ::-1])
        classes = {"classes": [{"name": n, "colour": list(c)}
                               for n, c in zip(CLASS_NAMES, COLOURS, strict=True)]}
        files = {
            "classes.json": json.dumps(classes).encode(),
            "images/a.png": _png(grey), "labels/a.png": _palette_png(labels),
            "masks/a.png": _png(np.where(labels > 1, 255, 0).astype(np.uint8)),
            "images/b.tif": _tiff(_image(other, np.uint16), photometric="minisblack"),
            "labels/b_label.png": _png(np.repeat(other[:, :, None], 3, axis=2)),
            "objects/b.csv": b"x,y,class\n35,15,ferrite\n20,25,3\n",
            "images/c.jpg": _png(_image(labels), format="JPEG", quality=90),
            "labels/c.png": _png(labels),
            "train.txt": b"a\nc.jpg\n", "val.txt": b"images/b.tif\n"}
        return (("", pack(files)),)
    raise ValueError(f"unknown sem format {fmt!r}; valid: {', '.join(SEM_FORMATS)}")


# --------------------------------------------------------------------------- mutators

_HOSTILE_MEMBERS = {
    "classes.json": (b'{"classes": [{"name": "a", "colour": "#zzzzzz"}, {"name": "b"}]}',
                     b'{"names": ["a", "a", "b"]}', b'["matrix"]', b"[" * 50_000 + b"]" * 50_000,
                     json.dumps([f"c{i}" for i in range(300)]).encode(),
                     b'{"names": ["a", "b"], "colours": [[1, 2, 3], [1, 2, 3]]}',
                     b'{"names": ["a", "b"], "colours": [[1e308, 0, 0], [0, 0, -1]]}',
                     b'{"classes": [{"name": "m", "colour": [0, 0, 0]}, {"name": 5}]}'),
    "objects/b.csv": (b"id,class\ninf,1\n", b"id,class\n1e300,1\n", b"id,class\n-1,1\n",
                      b"x,y,class\n1e20,3,1\n", b"x,y,class\n-3,2,1\n", b"id,class\n1,nine\n",
                      b"id,class\n" + b"1,1\n" * 20_000, b"class\n1\n", b"\xff\xfe\x00",
                      b"id,class\n9999,1\n", b"x,y,class\n0,0,1\n", b'"' * 200_000),
    "train.txt": (b"nothing\n", b"\x00\x01\x02", b"../../etc/passwd\n", b"a\na\na\n",
                  b"x" * 200_000, b"  \n#c\n", b"\xff\xfe" + "a\n".encode("utf-16-le")),
}


def _members(data: bytes) -> list[tuple[str, bytes]]:
    marks = list(_MEMBER.finditer(data))
    out = []
    for i, match in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(data)
        body = data[match.end():end]
        out.append((match.group(1).decode("utf-8", "replace"), body))
    return out


def semset_files(data: bytes, rng: np.random.Generator) -> bytes:
    """Replace, drop, swap, resize or rename a member of a packed data set."""
    members = dict(_members(data))
    if not members:
        return data
    choice = int(rng.integers(6))
    names = sorted(members)
    if choice == 0:
        name = _pick(rng, sorted(_HOSTILE_MEMBERS))
        members[name] = _pick(rng, _HOSTILE_MEMBERS[name])
    elif choice == 1:
        del members[_pick(rng, names)]
    elif choice == 2:  # one file's content in another's place (a mask as a label, ...)
        a, b = _pick(rng, names), _pick(rng, names)
        members[a], members[b] = members[b], members[a]
    elif choice == 3:  # truth of another size, indices past the classes, colour labels
        labels = _labels((int(rng.integers(1, 40)), int(rng.integers(1, 40))))
        kind = int(rng.integers(4))
        if kind == 1:
            labels[0, 0] = int(_pick(rng, (4, 7, 127, 200, 254)))
        array = labels if kind < 2 else np.stack([labels, labels, labels + (kind == 3)], axis=2)
        members[_pick(rng, [n for n in names if n.startswith(("labels/", "masks/"))] or names)] \
            = _png(array)
    elif choice == 4:  # an image of another size or kind
        shape = (int(rng.integers(1, 60)), int(rng.integers(1, 60)))
        image = _pick(rng, (np.zeros(shape, np.uint8), np.full(shape, np.nan, np.float32),
                            np.ones(shape + (4,), np.uint8), np.ones(shape + (2,), np.uint16)))
        members[_pick(rng, [n for n in names if n.startswith("images/")] or names)] = \
            _tiff(image) if rng.random() < 0.5 else _png(image[..., :3] if image.ndim == 3
                                                         and image.dtype == np.uint8
                                                         else np.zeros(shape, np.uint8))
    else:  # a hostile name: another folder, no suffix, a dot file, a parent path
        name = _pick(rng, names)
        new = _pick(rng, ("images/.hidden.png", "IMAGES/a.PNG", "labels/a_gt.tif", "gt/a.png",
                          "../outside.png", "images/sub/a.png", "images/a", "CLASSES.JSON",
                          "test.txt", "images/a b.png"))
        members[new] = members.pop(name)
    return pack(members)


def _png_chunks(data: bytes) -> list[tuple[int, bytes, bytes]]:
    chunks, at = [], 8
    while at + 8 <= len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        kind = data[at + 4:at + 8]
        chunks.append((at, kind, data[at + 8:at + 8 + length]))
        at += 12 + length
        if kind == b"IEND":
            break
    return chunks


def _chunk(kind: bytes, body: bytes) -> bytes:
    import zlib

    return len(body).to_bytes(4, "big") + kind + body + \
        zlib.crc32(kind + body).to_bytes(4, "big")


def png_chunks(data: bytes, rng: np.random.Generator) -> bytes:
    """PNG header fields (size, depth, colour type), pHYs and palette set to hostile values,
    with valid CRCs so the decoder gets past its checks; TIFF/JPEG are left as they are."""
    if not data.startswith(b"\x89PNG"):
        return data
    chunks = _png_chunks(data)
    if not chunks or chunks[0][1] != b"IHDR" or len(chunks[0][2]) != 13:
        return data
    header = bytearray(chunks[0][2])
    choice = int(rng.integers(4))
    extra = b""
    if choice == 0:
        at = _pick(rng, (0, 4))
        header[at:at + 4] = int(_pick(rng, (0, 1, 2**31 - 1, 2**31, 65536, 20000, 100_000))
                                ).to_bytes(4, "big")
    elif choice == 1:
        header[8], header[9] = _pick(rng, (1, 2, 4, 8, 16, 3, 0)), _pick(rng, (0, 2, 3, 4, 6, 5))
    elif choice == 2:
        ppm = int(_pick(rng, (0, 1, 2**32 - 1, 2835, 3780, 40)))
        extra = _chunk(b"pHYs", ppm.to_bytes(4, "big") * 2 + bytes([_pick(rng, (0, 1, 7))]))
    else:
        extra = _chunk(b"PLTE", bytes(int(rng.integers(0, 900)) // 3 * 3))
    start, _, body = chunks[0]
    rest = data[start + 12 + len(body):]
    return data[:start] + _chunk(b"IHDR", bytes(header)) + extra + rest


def pixel_values(data: bytes, rng: np.random.Generator) -> bytes:
    """NaN, infinities or float32 extremes written over 1-8 pixels of the data (past the
    first 10 % of the file, where the headers are)."""
    import struct

    out = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        at = int(rng.integers(len(data) // 10, max(len(data) // 10 + 1, len(data) - 4)))
        value = _pick(rng, (float("nan"), float("inf"), -float("inf"), 3.4e38, -1e30, 1e-45))
        out[at:at + 4] = struct.pack(_pick(rng, ("<f", ">f")), value)
    return bytes(out[:len(data)])


def sem_mutators(fmt: str) -> dict:
    """Format-aware mutators of a sem format (the byte-level ones come on top)."""
    from tests.fuzz.imaging import tiff_tags
    from tests.fuzz.mutators import hostile_number, huge_number

    if fmt == "semset":
        return {"semset_files": semset_files, "hostile_number": hostile_number,
                "huge_number": huge_number}
    return {"png_chunks": png_chunks, "tiff_tags": tiff_tags, "pixel_values": pixel_values}


# --------------------------------------------------------------------------- targets

def unpack(fmt: str, path: Path) -> tuple[Path, set[str]]:
    """The case's files in a fresh folder: the image, or the data set's files."""
    folder = path.parent / "case-files"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    if fmt != "semset":
        target = folder / path.name
        target.write_bytes(path.read_bytes())
        return target, {target.name}
    root = folder / "set"
    root.mkdir()
    names = {root.name}
    for name, body in _members(path.read_bytes()):
        parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
        if not parts or any(len(p) > 100 or "\x00" in p for p in parts):
            continue
        member = root.joinpath(*parts)
        if member.exists() and member.is_dir():
            continue
        try:
            member.parent.mkdir(parents=True, exist_ok=True)
            member.write_bytes(body)
        except OSError:  # a name that is a file in one member and a folder in another
            continue
        names.update(parts)
    return root, names


def _micrograph_problems(micrograph, file_bytes: int) -> list[str]:
    from engines.sem.readers import MAX_PIXELS, to_grey

    array = micrograph.array
    problems = []
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        return [f"{micrograph.path.name}: image of shape {array.shape}"]
    height, width = array.shape[:2]
    if not 1 <= height * width <= MAX_PIXELS:
        problems.append(f"{micrograph.path.name}: {height} × {width} px")
    if array.nbytes > file_bytes * BEST_RATIO:
        problems.append(f"{micrograph.path.name}: {array.nbytes} bytes decoded from a "
                        f"{file_bytes}-byte file")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        problems.append(f"{micrograph.path.name}: pixels not finite")
    size = micrograph.pixel_size_um
    if size is not None and not PIXEL_SIZE_UM[0] <= size <= PIXEL_SIZE_UM[1]:
        problems.append(f"{micrograph.path.name}: pixel size {size} µm")
    if to_grey(array).shape != (height, width):
        problems.append(f"{micrograph.path.name}: grey image of another shape")
    return problems


def _label_problems(labels: np.ndarray, n_classes: int, shape, name: str) -> list[str]:
    from engines.sem.labels import IGNORE

    if labels.dtype != np.uint8 or labels.ndim != 2:
        return [f"{name}: labels {labels.dtype} {labels.shape}"]
    if shape is not None and labels.shape != tuple(shape):
        return [f"{name}: labels {labels.shape} for an image of {tuple(shape)}"]
    bad = (labels >= n_classes) & (labels != IGNORE)
    return [f"{name}: class index {int(labels[bad][0])} of {n_classes}"] if bad.any() else []


def sem_problems(fmt: str, read_path: Path) -> list[str]:
    """What is impossible in what the sem readers return for ``read_path``; [] if valid."""
    from engines.sem.labels import read_label, read_mask
    from engines.sem.readers import read_micrograph

    if fmt == "micrograph":
        return _micrograph_problems(read_micrograph(read_path), read_path.stat().st_size)
    if fmt == "semlabel":
        labels, _ = read_label(read_path, _classes())
        problems = _label_problems(labels, len(CLASS_NAMES), None, read_path.name)
        mask, _ = read_mask(read_path)
        if mask.dtype != bool or mask.shape != labels.shape:
            problems.append(f"mask {mask.dtype} {mask.shape} for labels {labels.shape}")
        return problems
    return _dataset_problems(read_path)


def _dataset_problems(root: Path) -> list[str]:
    from engines.sem.dataset import load_sample, open_dataset, truth_objects

    dataset = open_dataset(root)
    classes = dataset.classes
    problems = []
    if not 2 <= len(classes) <= 127 or len(set(classes.names)) != len(classes):
        problems.append(f"classes {classes.names}")
    if len(set(classes.colours)) != len(classes):
        problems.append(f"class colours repeat: {classes.colours}")
    for split, keys in dataset.splits.items():
        if any(k not in dataset.samples for k in keys):
            problems.append(f"split {split} names an unknown sample")
    try:
        json.loads(json.dumps(dataset.summary()), parse_constant=lambda c: 1 / 0)
    except (ValueError, ZeroDivisionError, TypeError) as exc:
        problems.append(f"summary is not valid JSON ({exc})")
    for files in dataset.samples.values():
        if files.label is None and files.mask is None and files.objects is None:
            continue
        sample = load_sample(files, classes)
        image = sample.micrograph
        problems += _micrograph_problems(image, files.image.stat().st_size)
        shape = image.shape
        if sample.labels is not None:
            problems += _label_problems(sample.labels, len(classes), shape, files.stem)
        if sample.mask is not None and (sample.mask.dtype != bool or
                                        sample.mask.shape != shape):
            problems.append(f"{files.stem}: mask {sample.mask.shape} for an image of {shape}")
        if sample.labels is None and sample.mask is None:
            continue
        objects, n, truth = truth_objects(sample, len(classes))
        if objects.shape != shape or len(truth) != n or (
                n and not (truth.min() >= -1 and truth.max() < len(classes))):
            problems.append(f"{files.stem}: {n} objects with truth classes "
                            f"{np.unique(truth).tolist()[:5]}")
        if problems:
            break
    return problems


__all__ = ["SEM_FORMATS", "pack", "sem_mutators", "sem_problems", "sem_seeds", "unpack"]
