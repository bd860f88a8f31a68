"""Format-aware mutators: HDF5 variants written with h5py, ROOT variants written with uproot.

Byte flips rarely get past a container's checksums and signatures; these build files that
are well-formed containers with hostile content: dtype changes, NaN/inf/1e300, index
overflow, giant sizes declared through fill values, link cycles, deep JSON, empty trees.
Every mutator is ``f(data, rng) -> bytes`` like the byte-level ones (``data`` is the seed).
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

CASE_STEM = "case"  # the runner writes every case as case<suffix>: external links point here
FLOAT_SPECIALS = (np.nan, np.inf, -np.inf, 1e300, -1e300, 3.5e38, 1e38, -1e39, 1e-320)
DTYPES = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16",
          "float32", "float64", "bool")


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


# --------------------------------------------------------------------------- HDF5

def _load_h5(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """Attributes and columns of an HDF5 seed: fresh copies, the mutators edit them."""
    attrs, columns = _read_h5(data)
    return ({k: v.copy() if isinstance(v, np.ndarray) else v for k, v in attrs.items()},
            {k: v.copy() for k, v in columns.items()})


@functools.lru_cache(maxsize=8)
def _read_h5(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """The seed read once per worker (``data`` is always one of the few seeds)."""
    import h5py

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seed.h5"
        path.write_bytes(data)
        with h5py.File(path, "r") as h5:
            attrs = dict(h5.attrs)
            columns = {f"{g}/{k}": h5[g][k][...] for g in ("events", "hits") for k in h5[g]}
    return attrs, columns


def _write_h5(attrs: dict, columns: dict, edit: Callable | None = None,
              userblock: int = 0) -> bytes:
    import h5py

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{CASE_STEM}.h5"
        with h5py.File(path, "w", userblock_size=userblock or None) as h5:
            for name, value in columns.items():
                array = np.asarray(value)
                chunked = array.ndim == 1 and array.size > 0 and array.dtype.kind in "biuf"
                h5.create_dataset(name, data=array, chunks=(min(4096, array.size),) if chunked
                                  else None, compression="gzip" if chunked else None)
            for key, value in attrs.items():
                h5.attrs[key] = value
            if edit is not None:
                edit(h5)
        return path.read_bytes()


def h5_dtype(data: bytes, rng: np.random.Generator) -> bytes:
    """One column stored in another type (values cast with wrap-around), or as strings."""
    attrs, columns = _load_h5(data)
    name = _pick(rng, sorted(columns))
    kind = _pick(rng, DTYPES + ("S8", "float64"))
    with np.errstate(all="ignore"):
        columns[name] = columns[name].astype(kind)
    return _write_h5(attrs, columns)


def h5_values(data: bytes, rng: np.random.Generator) -> bytes:
    """Edge values (NaN, inf, 1e300, int extremes) in a column, stored as float64/int64."""
    attrs, columns = _load_h5(data)
    name = _pick(rng, sorted(columns))
    column = columns[name]
    if column.size == 0:
        return data
    where = rng.integers(column.size, size=int(rng.integers(1, 4)))
    if column.dtype.kind == "f" or rng.random() < 0.3:
        column = column.astype(np.float64)
        column[where] = _pick(rng, FLOAT_SPECIALS)
    else:
        column = column.astype(np.int64)
        column[where] = _pick(rng, (-1, -(2**63), 2**63 - 1, 2**31, 5000, 4986, 128, -2, 2**40))
    columns[name] = column
    return _write_h5(attrs, columns)


def h5_index(data: bytes, rng: np.random.Generator) -> bytes:
    """Attacks on hit_offset/hit_count: int64 wrap, overlap, uint64, int8, huge counts."""
    attrs, columns = _load_h5(data)
    offset = columns["events/hit_offset"].astype(np.int64)
    count = columns["events/hit_count"].astype(np.int64)
    choice = int(rng.integers(6))
    if choice == 0:  # offset near int64 max: offset + count wraps past the bounds check
        offset[0] = 2**63 - 1 - int(rng.integers(0, 3))
    elif choice == 1:  # every event points at the same hits
        offset[:] = 0
    elif choice == 2:
        columns["events/hit_count"] = count.astype(np.uint64)
        columns["events/hit_offset"] = offset.astype(np.uint64)
        if rng.random() < 0.5:
            columns["events/hit_count"][0] = np.uint64(2**64 - 1)
        return _write_h5(attrs, columns)
    elif choice == 3:
        with np.errstate(all="ignore"):
            columns["events/hit_offset"] = offset.astype(np.int8)
            columns["events/hit_count"] = count.astype(np.int8)
        return _write_h5(attrs, columns)
    elif choice == 4:
        count[int(rng.integers(count.size))] = _pick(rng, (500_001, 2**62, -1, count.sum() + 1))
    else:
        offset[-1] = offset[-1] + int(rng.integers(1, 5))
    columns["events/hit_offset"], columns["events/hit_count"] = offset, count
    return _write_h5(attrs, columns)


def h5_links(data: bytes, rng: np.random.Generator) -> bytes:
    """Soft-link cycles, dangling links, external links (to this file or a missing one)."""
    import h5py

    attrs, columns = _load_h5(data)
    target = _pick(rng, sorted(columns) + ["events", "hits"])
    if target in ("events", "hits"):
        columns = {k: v for k, v in columns.items() if not k.startswith(target + "/")}
    else:
        columns.pop(target)
    choice = int(rng.integers(5))

    def edit(h5):
        if choice == 0:
            h5[target] = h5py.SoftLink("/" + target)
        elif choice == 1:
            h5["loop_a"] = h5py.SoftLink("/loop_b")
            h5["loop_b"] = h5py.SoftLink("/loop_a")
            h5[target] = h5py.SoftLink("/loop_a")
        elif choice == 2:
            h5[target] = h5py.SoftLink("/nowhere/at/all")
        elif choice == 3:
            h5[target] = h5py.ExternalLink(f"{CASE_STEM}.h5", "/" + target)
        else:
            h5[target] = h5py.ExternalLink("/dev/zero", "/x")

    return _write_h5(attrs, columns, edit)


def h5_metadata(data: bytes, rng: np.random.Generator) -> bytes:
    """The JSON ``metadata`` attribute: deep nesting, not JSON, huge, other types."""
    attrs, columns = _load_h5(data)
    depth = int(_pick(rng, (100, 2000, 100_000)))
    attrs["metadata"] = _pick(rng, (
        "[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth, "{not json",
        json.dumps({"x": "y" * 200_000}), "[1, 2]", "null", b"\xff\xfe", np.arange(5),
        np.float64(1e300), "NaN"))
    return _write_h5(attrs, columns)


def h5_attrs(data: bytes, rng: np.random.Generator) -> bytes:
    """format / version / content / n_events attributes of odd types or values."""
    import h5py

    attrs, columns = _load_h5(data)
    key = _pick(rng, ("format", "version", "content", "n_events", "n_hits", "n_cells"))
    value = _pick(rng, (np.arange(3), 2**63 - 1, -1, 1.0, "1", np.bool_(True), b"lablens-cdc-events",
                        h5py.Empty("f"), np.array([b"x", b"y"]), 10**12, None))
    if value is None:
        attrs.pop(key, None)
    else:
        attrs[key] = value
    return _write_h5(attrs, columns)


def h5_fill(data: bytes, rng: np.random.Generator) -> bytes:
    """Giant datasets declared through fill values: a small file that claims 10^6+ rows."""

    attrs, columns = _load_h5(data)
    n_events = int(_pick(rng, (10**6, 2 * 10**7, 10**5)))
    n_hits = int(_pick(rng, (500_000, 10**8, 10**9)))
    which = _pick(rng, ("events", "hits", "both"))

    def edit(h5):
        if which in ("events", "both"):
            for name in [k for k in h5["events"]]:
                del h5["events"][name]
                fill = {"hit_count": min(n_hits, 500_000), "hit_offset": 0}.get(name, 0)
                h5["events"].create_dataset(name, shape=(n_events,), dtype=columns[
                    f"events/{name}"].dtype, chunks=(65536,), compression="gzip",
                    fillvalue=fill)
        if which in ("hits", "both"):
            for name in [k for k in h5["hits"]]:
                dtype = columns[f"hits/{name}"].dtype
                del h5["hits"][name]
                h5["hits"].create_dataset(name, shape=(n_hits,), dtype=dtype, chunks=(1 << 16,),
                                          compression="gzip", fillvalue=0)
        h5.attrs["n_events"], h5.attrs["n_hits"] = n_events, n_hits

    return _write_h5(attrs, columns, edit)


def h5_shape(data: bytes, rng: np.random.Generator) -> bytes:
    """2-D, scalar, empty or shortened columns."""
    attrs, columns = _load_h5(data)
    name = _pick(rng, sorted(columns))
    column = columns[name]
    columns[name] = _pick(rng, (column[: column.size // 2], column[:0], np.asarray(column[:1][0])
                                if column.size else column, np.stack([column, column])))
    return _write_h5(attrs, columns)


def h5_structure(data: bytes, rng: np.random.Generator) -> bytes:
    """Groups replaced by datasets and back, missing groups, a column as a group."""
    attrs, columns = _load_h5(data)
    choice = int(rng.integers(4))
    group = _pick(rng, ("events", "hits"))
    if choice == 0:
        columns = {k: v for k, v in columns.items() if not k.startswith(group)}
        columns[group] = np.arange(4)
    elif choice == 1:
        columns = {k: v for k, v in columns.items() if not k.startswith(group)}
    elif choice == 2:
        name = _pick(rng, sorted(columns))
        columns[name + "/inner"] = columns.pop(name)
    else:
        columns = {f"extra/{k}": v for k, v in columns.items()} | columns
    return _write_h5(attrs, columns)


def h5_exotic(data: bytes, rng: np.random.Generator) -> bytes:
    """Compound, enum, variable-length and reference types where numbers are expected."""
    import h5py

    attrs, columns = _load_h5(data)
    name = _pick(rng, sorted(columns))
    n = columns[name].shape[0] if columns[name].ndim else 1
    choice = int(rng.integers(4))

    def edit(h5):
        del h5[name]
        if choice == 0:
            h5.create_dataset(name, data=np.zeros(n, dtype=[("a", "<i4"), ("b", "<f8")]))
        elif choice == 1:
            kind = h5py.enum_dtype({"A": 0, "B": 1}, basetype="i1")
            h5.create_dataset(name, data=np.zeros(n, np.int8), dtype=kind)
        elif choice == 2:
            h5.create_dataset(name, shape=(n,), dtype=h5py.vlen_dtype(np.int32))
        else:
            h5.create_dataset(name, shape=(n,), dtype=h5py.ref_dtype)
        h5.attrs["odd"] = np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")])

    return _write_h5(attrs, columns, edit)


def h5_userblock(data: bytes, rng: np.random.Generator) -> bytes:
    """A valid file behind a user block (the signature is then at 512 or more)."""
    attrs, columns = _load_h5(data)
    return _write_h5(attrs, columns, userblock=int(_pick(rng, (512, 1024, 4096))))


def h5_many_events(data: bytes, rng: np.random.Generator) -> bytes:
    """A legitimately large index: many events with few or no hits (speed, not refusal)."""
    attrs, columns = _load_h5(data)
    n = int(_pick(rng, (5_000, 50_000, 200_000)))
    columns.update({
        "events/event_number": np.arange(n, dtype=np.int64),
        "events/hit_offset": np.zeros(n, np.int64), "events/hit_count": np.zeros(n, np.int64),
        "events/trigger_counter": np.full(n, -1, np.int16),
        "events/trigger_time_ns": np.zeros(n), "events/has_truth": np.ones(n, np.uint8)})
    attrs["n_events"] = n
    return _write_h5(attrs, columns)


# --------------------------------------------------------------------------- ROOT

def _write_root(trees: dict[str, dict]) -> bytes:
    import uproot

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{CASE_STEM}.root"
        with uproot.recreate(path) as file:
            for name, content in trees.items():
                if isinstance(content, tuple):  # a histogram where a tree is expected
                    file[name] = content
                    continue
                types = {k: (v.type if hasattr(v, "layout") else np.asarray(v).dtype)
                         for k, v in content.items()}
                tree = file.mktree(name, types)
                if any(len(v) for v in content.values()):
                    tree.extend(content)
        return path.read_bytes()


def _hits(prefix: str = "CDCHit.") -> dict[str, np.ndarray]:
    from tests.fuzz.seeds import seed_events_columns

    return {prefix + k: v.copy() for k, v in seed_events_columns().items()}


def _cth(events: np.ndarray) -> dict[str, np.ndarray]:
    numbers = np.unique(events)
    return {"CTHHit.fEventNumber": numbers.astype(np.int32),
            "CTHHit.fCounter": (numbers % 64).astype(np.int32),
            "CTHHit.fDetectedTime": np.full(numbers.size, 700.0)}


def root_empty(data: bytes, rng: np.random.Generator) -> bytes:
    """A CDCHitTree with every branch and no entries (with or without a CTH tree)."""
    hits = {k: v[:0] for k, v in _hits().items()}
    trees = {"CDCHitTree": hits}
    if rng.random() < 0.5:
        trees["CTHHitTree"] = {k: v[:0] for k, v in _cth(np.zeros(1)).items()}
    return _write_root(trees)


def root_dtype(data: bytes, rng: np.random.Generator) -> bytes:
    """A hit branch of another type: fractional channels, int8 wrap, huge uint64 numbers."""
    hits = _hits()
    name = _pick(rng, sorted(hits))
    with np.errstate(all="ignore"):
        value = hits[name].astype(_pick(rng, [d for d in DTYPES if d != "float16"]))
    if rng.random() < 0.3 and value.dtype.kind == "f":
        value = value + 0.5
    if rng.random() < 0.3 and value.dtype.kind == "u" and value.dtype.itemsize == 8:
        value[0] = np.uint64(2**64 - 1)
    hits[name] = value
    return _write_root({"CDCHitTree": hits, "CTHHitTree": _cth(hits["CDCHit.fEventNumber"])})


def root_values(data: bytes, rng: np.random.Generator) -> bytes:
    """NaN, inf, 1e300 or out-of-range values in a hit branch."""
    hits = _hits()
    name = _pick(rng, sorted(hits))
    where = rng.integers(hits[name].size, size=int(rng.integers(1, 4)))
    if hits[name].dtype.kind == "f":
        hits[name][where] = _pick(rng, FLOAT_SPECIALS)
    else:
        hits[name] = hits[name].astype(np.int64)
        hits[name][where] = _pick(rng, (-1, 4482, 2**31 - 1, -(2**63), 2**63 - 1, 5000))
    return _write_root({"CDCHitTree": hits, "CTHHitTree": _cth(hits["CDCHit.fEventNumber"]
                                                                .astype(np.int64))})


def root_cth(data: bytes, rng: np.random.Generator) -> bytes:
    """Trigger-tree oddities: 1e300 times, fIsTrig, counters out of range, missing branches."""
    hits = _hits()
    cth = _cth(hits["CDCHit.fEventNumber"])
    choice = int(rng.integers(6))
    if choice == 0:
        cth["CTHHit.fDetectedTime"][:] = _pick(rng, (1e300, -1e300, np.inf, np.nan, 4e38))
    elif choice == 1:
        cth = {k: np.concatenate([v, v]) for k, v in cth.items()}
        cth["CTHHit.fIsTrig"] = np.r_[np.zeros(len(v := cth["CTHHit.fCounter"]) // 2),
                                      np.ones(len(v) - len(v) // 2)].astype(np.int32)
        cth["CTHHit.fDetectedTime"][: len(v) // 2] -= 300.0
    elif choice == 2:
        cth["CTHHit.fCounter"][:] = _pick(rng, (128, -5, 2**31 - 1))
    elif choice == 3:
        del cth[_pick(rng, sorted(cth))]
    elif choice == 4:
        cth["CTHHit.fDetectedTime"] = cth["CTHHit.fDetectedTime"].astype(np.int64)
    else:
        cth["CTHHit.fEventNumber"] = cth["CTHHit.fEventNumber"] + 10**6
    return _write_root({"CDCHitTree": hits, "CTHHitTree": cth})


def root_jagged(data: bytes, rng: np.random.Generator) -> bytes:
    """One entry per event with variable-length branches whose lengths disagree."""
    import awkward as ak

    hits = _hits()
    numbers = hits.pop("CDCHit.fEventNumber")
    _, counts = np.unique(numbers, return_counts=True)
    jagged = {k: ak.unflatten(v, counts) for k, v in hits.items()}
    name = _pick(rng, sorted(jagged))
    other = counts.copy()
    other[0] = max(0, other[0] - 1)
    other[-1] += 1
    jagged[name] = ak.unflatten(hits[name][: other.sum()] if other.sum() <= hits[name].size
                                else np.r_[hits[name], hits[name][:1]], other)
    jagged["CDCHit.fEventNumber"] = np.unique(numbers).astype(np.int32)
    return _write_root({"CDCHitTree": jagged})


def root_missing(data: bytes, rng: np.random.Generator) -> bytes:
    """No hit tree, a histogram in its place, a missing or doubly named branch."""
    hits = _hits()
    choice = int(rng.integers(4))
    if choice == 0:
        del hits[_pick(rng, sorted(hits))]
        return _write_root({"CDCHitTree": hits})
    if choice == 1:
        return _write_root({"CDCHitTree": np.histogram(np.arange(10), bins=5)})
    if choice == 2:
        return _write_root({"OtherTree": hits})
    hits["fChannel"] = hits["CDCHit.fChannel"][::-1].copy()
    return _write_root({"CDCHitTree": hits})


def root_many_hits(data: bytes, rng: np.random.Generator) -> bytes:
    """A legitimately large flat tree (speed, not refusal)."""
    hits = _hits()
    times = int(_pick(rng, (20, 200)))
    big = {k: np.tile(v, times) for k, v in hits.items()}
    big["CDCHit.fEventNumber"] = np.repeat(np.arange(times * 3), hits["CDCHit.fChannel"].size
                                           // 3 + 1)[: big["CDCHit.fChannel"].size].astype(
                                               np.int32)
    return _write_root({"CDCHitTree": big})


_H5 = {f.__name__: f for f in (h5_dtype, h5_values, h5_index, h5_links, h5_metadata, h5_attrs,
                               h5_fill, h5_shape, h5_structure, h5_exotic, h5_userblock,
                               h5_many_events)}
_ROOT = {f.__name__: f for f in (root_empty, root_dtype, root_values, root_cth, root_jagged,
                                 root_missing, root_many_hits)}


def structured_mutators(fmt: str) -> dict[str, Callable[[bytes, np.random.Generator], bytes]]:
    """The format-aware mutators of "hdf5" or "root"."""
    return dict(_H5 if fmt == "hdf5" else _ROOT)
