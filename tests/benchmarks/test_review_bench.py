"""Review benchmarks (``make bench``): they print tables and assert nothing about speed.

Tables: autosave cost per edit (full JSON sidecar with cached item texts, written with fsync)
and restore time for 1000–10 000 items; review navigation; the item table (load, sort by an
array column and by a document-backed column); the FCN confusion accumulator on an 8000×7000
image in 1000² tiles; the LUNA16 FROC (888 scans) and its bootstrap.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import pytest

from engines.core.autosave import open_review
from engines.core.froc import Findings, cpm_bootstrap, froc_curve, froc_entries
from engines.core.metrics import ConfusionAccumulator
from engines.core.review import ReviewItem
from engines.core.review_commands import SetFields, SetNote, decide
from tests.benchmarks import print_table

SIZES = (1000, 5000, 10_000)
CLASSES = ["ferrite", "martensite", "tempered martensite", "bainite", "pearlite"]


def _items(n: int, seed: int = 0) -> list[ReviewItem]:
    rng = np.random.default_rng(seed)
    return [ReviewItem(i, int(rng.integers(5)), score=float(rng.random()), mask_id=i + 1,
                       extras={"runner_up": int(rng.integers(5)), "area_px":
                               int(rng.integers(20, 5000)), "runner_up_share":
                               float(rng.random() / 2)}) for i in range(n)]


def _ms(seconds: list[float]) -> float:
    return 1000 * statistics.median(seconds)


def test_autosave_and_restore_cost(tmp_path):
    rows = []
    for n in SIZES:
        source = tmp_path / f"image{n}.tif"
        source.write_bytes(os.urandom(1 << 16))
        document = open_review(source, CLASSES, _items(n), kind="sem").document
        start = time.perf_counter()
        first = document.autosave.encode(document)
        encode_all = time.perf_counter() - start
        edits = []
        for k in range(40):
            start = time.perf_counter()
            document.execute(decide([k], label=k % 5, state="accepted"))
            edits.append(time.perf_counter() - start)
        encodes = []
        for _ in range(10):
            start = time.perf_counter()
            document.autosave.encode(document)
            encodes.append(time.perf_counter() - start)
        undo = []
        for _ in range(10):
            start = time.perf_counter()
            document.undo()
            undo.append(time.perf_counter() - start)
        start = time.perf_counter()
        document.execute(SetFields(document.ids(), "bulk", reviewed=True))
        bulk = time.perf_counter() - start
        start = time.perf_counter()
        restored = open_review(source, CLASSES, [], kind="sem")
        restore = time.perf_counter() - start
        assert len(restored.document) == n
        rows.append([n, len(first) / 1e6, 1000 * encode_all, _ms(encodes), _ms(edits), _ms(undo),
                     1000 * bulk, 1000 * restore])
    print_table("Review autosave: whole sidecar per edit (temp file + fsync + rename + folder "
                "fsync), medians, ms",
                ["items", "MB", "encode all", "encode cached", "edit+save", "undo+save",
                 "bulk edit all", "restore"], rows)


def test_navigation_cost():
    from engines.core.review import ReviewDocument

    rows = []
    for n in SIZES:
        document = ReviewDocument(CLASSES, _items(n))
        for k in range(0, n, 3):
            document.replace_items({k: document[k].edited(reviewed=True)})
        times = []
        current = None
        for _ in range(20):
            start = time.perf_counter()
            current = document.navigate(current)
            times.append(time.perf_counter() - start)
        rows.append([n, _ms(times)])
    print_table("Review navigation: next unreviewed, lowest confidence first (ms)",
                ["items", "next"], rows)


def test_item_table_cost(qtbot):
    from PySide6.QtCore import Qt

    from engines.core.review import ReviewDocument
    from widgets.common.review_table import ReviewTable

    rows = []
    for n in SIZES:
        document = ReviewDocument(CLASSES, _items(n))
        table = ReviewTable()
        qtbot.addWidget(table)
        table.resize(700, 400)
        table.show()
        start = time.perf_counter()
        table.set_document(document)
        qtbot.wait(1)
        load = time.perf_counter() - start
        timings = [n, 1000 * load]
        for column in (4, 1):  # score (document-backed), class name (text)
            start = time.perf_counter()
            table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
            qtbot.wait(1)
            timings.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        document.execute(SetNote(n // 2, "edited"))
        qtbot.wait(1)
        timings.append(1000 * (time.perf_counter() - start))
        rows.append(timings)
        table.set_document(None)
    print_table("Review table (ms; cells read from the document)",
                ["rows", "load", "sort score", "sort class", "edit redraw"], rows)


def test_confusion_accumulator_rate():
    rng = np.random.default_rng(0)
    tile_true = rng.integers(0, 5, size=(1000, 1000), dtype=np.uint8)
    tile_pred = np.where(rng.random((1000, 1000)) < 0.9, tile_true,
                         rng.integers(0, 5, size=(1000, 1000), dtype=np.uint8))
    accumulator = ConfusionAccumulator(5)
    start = time.perf_counter()
    for _ in range(56):  # an 8000×7000 image in 1000² tiles
        accumulator.update(tile_true, tile_pred)
    seconds = time.perf_counter() - start
    print_table("Confusion accumulator, 8000×7000 px in 56 tiles of 1000², CPU numpy",
                ["pixels", "seconds", "Mpx/s"], [[accumulator.matrix.sum(), seconds,
                                                  56e6 / seconds / 1e6]])


@pytest.mark.parametrize("scans", [888])
def test_froc_cost(scans):
    rng = np.random.default_rng(1)
    ids = [f"1.3.6.1.4.1.14519.5.2.1.6279.6001.{i:012d}" for i in range(scans)]
    n_nodules = 1186
    nod_scan = rng.integers(0, scans, n_nodules)
    nod_xyz = rng.uniform(-150, 150, (n_nodules, 3))
    nodules = Findings([ids[i] for i in nod_scan], nod_xyz, diameter_mm=rng.uniform(3, 30,
                                                                                    n_nodules))
    hit = rng.random(n_nodules) < 0.9
    n_false = 60 * scans
    cand = Findings([ids[i] for i in np.r_[nod_scan[hit], rng.integers(0, scans, n_false)]],
                    np.r_[nod_xyz[hit], rng.uniform(-150, 150, (n_false, 3))],
                    probability=np.r_[rng.beta(5, 2, hit.sum()), rng.beta(2, 5, n_false)])
    start = time.perf_counter()
    entries = froc_entries(ids, nodules, cand)
    match = time.perf_counter() - start
    start = time.perf_counter()
    curve = froc_curve(entries)
    curve_s = time.perf_counter() - start
    start = time.perf_counter()
    interval = cpm_bootstrap(entries, n_samples=1000, seed=0)
    boot = time.perf_counter() - start
    print_table(f"LUNA16 FROC, {scans} scans, {n_nodules} nodules, {len(cand)} candidates",
                ["match s", "curve ms", "bootstrap 1000 s", "CPM", "95 % CI"],
                [[match, 1000 * curve_s, boot, curve.cpm,
                  f"{interval.lower:.3f}–{interval.upper:.3f}"]])
