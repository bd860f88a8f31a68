"""Scoped mutation testing: mutants of one engine module, killed by that module's own tests.

`python -m tests.mutation engines/core/metrics.py` (what `make mutate MODULE=...` runs) copies
the tree into a scratch folder, writes a `[tool.mutmut]` that mutates only that module and
selects only the tests in `SCOPES` (the module's own test files: a mutant must be caught where
the code is tested, not by an accuracy test of a demo model three layers up), runs mutmut there
and prints one table row: mutants, killed, timed out, survived, no tests, kill rate. Survivors
are listed by `mutmut results` in the scratch folder (its path is printed), one of them by
`mutmut show NAME`. `--tests` overrides the scope; `--max-children` sets mutmut's parallelism;
`--rerun` re-checks only the last run's survivors against the tests as they are now (the row
counts the others as that run left them, kept in the scratch folder's `statuses.json`);
`--report` runs nothing and prints the row again. A package
(``engines/core``) stands for every module of it in ``SCOPES``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
E, T = "engines/", "tests/engines/"

#: module -> its own tests (paths relative to the repository root)
SCOPES: dict[str, list[str]] = {
    E + "core/metrics.py": [T + "core/test_metrics.py", T + "core/test_metrics_imaging.py"],
    E + "core/box_metrics.py": [T + "core/test_metrics_imaging.py"],
    E + "core/safe_read.py": [T + "core/test_safe_read.py"],
    E + "core/safe_text.py": [T + "core/test_safe_text.py"],
    E + "core/review_items.py": [T + "core/test_review_items.py", T + "core/test_review.py",
                                 T + "core/test_review_autosave.py"],
    E + "core/review_commands.py": [T + "core/test_review.py"],
    E + "core/autosave.py": [T + "core/test_review_autosave.py",
                             T + "core/test_autosave_sidecar.py"],
    E + "core/files.py": [T + "core/test_files.py", T + "core/test_review_autosave.py"],
    E + "core/froc.py": [T + "core/test_froc.py"],
    E + "core/boosted_trees.py": [T + "core/test_boosted_trees.py"],
    E + "core/hdf5_guard.py": [T + "core/test_hdf5_guard.py"],
    E + "core/checkpoint.py": [T + "core/test_checkpoint.py"],
    E + "spectrum/preprocessing.py": [T + "spectrum/test_preprocessing.py"],
    E + "spectrum/rebin.py": [T + "spectrum/test_rebin.py"],
    E + "spectrum/readers/_common.py": [
        T + "spectrum/test_readers_common.py", T + "spectrum/test_readers_csv.py", T + "spectrum/test_readers_spe.py",
        T + "spectrum/test_readers_n42.py", T + "spectrum/test_readers_hostile.py",
        T + "spectrum/test_readers_fuzz_regressions.py", T + "spectrum/test_readers_cnf.py",
        T + "spectrum/test_readers_specutils.py"],
    E + "spectrum/readers/csv_format.py": [
        T + "spectrum/test_readers_csv.py", T + "spectrum/test_readers_common.py",
        T + "spectrum/test_readers_hostile.py", T + "spectrum/test_readers_fuzz_regressions.py"],
    E + "spectrum/readers/spe.py": [
        T + "spectrum/test_readers_spe.py", T + "spectrum/test_readers_common.py",
        T + "spectrum/test_readers_hostile.py", T + "spectrum/test_readers_fuzz_regressions.py"],
    E + "spectrum/readers/n42.py": [
        T + "spectrum/test_readers_n42.py", T + "spectrum/test_readers_hostile.py",
        T + "spectrum/test_readers_fuzz_regressions.py"],
    E + "spectrum/readers/cnf.py": [T + "spectrum/test_readers_cnf.py",
                                    T + "spectrum/test_readers_hostile.py"],
    E + "spectrum/readers/specutils.py": [T + "spectrum/test_readers_specutils.py"],
    E + "spectrum/readers/__init__.py": [
        T + "spectrum/test_readers_dispatch.py", T + "spectrum/test_readers_common.py", T + "spectrum/test_readers_csv.py", T + "spectrum/test_readers_spe.py",
        T + "spectrum/test_readers_n42.py", T + "spectrum/test_readers_hostile.py",
        T + "spectrum/test_readers_fuzz_regressions.py", T + "spectrum/test_readers_cnf.py",
        T + "spectrum/test_readers_specutils.py"],
    E + "spectrum/peers.py": [T + "spectrum/test_peers.py"],
    E + "cdc/metrics.py": [T + "cdc/test_metrics.py"],
    E + "cdc/hdf5_io.py": [T + "cdc/test_hdf5_io.py", T + "cdc/test_hdf5_io_layout.py",
                           T + "cdc/test_io_hostile.py",
                           T + "cdc/test_io_fuzz_regressions.py"],
    E + "cdc/root_io.py": [T + "cdc/test_root_io.py", T + "cdc/test_io_hostile.py",
                           T + "cdc/test_io_fuzz_regressions.py"],
    E + "sem/readers.py": [T + "sem/test_readers.py", T + "sem/test_readers_damaged.py"],
    E + "sem/labels.py": [T + "sem/test_labels.py"],
    E + "sem/maxvote.py": [T + "sem/test_maxvote.py"],
    E + "nodules/luna16.py": [T + "nodules/test_luna16.py"],
    E + "nodules/evaluation.py": [T + "nodules/test_evaluation.py"],
    E + "soil/pore_metrics.py": [T + "soil/test_pore_metrics.py"],
    E + "soil/porosity.py": [T + "soil/test_core_axis_porosity.py"],
    E + "soil/core_axis.py": [T + "soil/test_core_axis_porosity.py", T + "soil/test_core_axis.py"],
    E + "soil/preprocess.py": [T + "soil/test_preprocess_bands.py"],
    E + "soil/bands.py": [T + "soil/test_preprocess_bands.py"],
    E + "soil/dataset.py": [T + "soil/test_models_dataset.py", T + "soil/test_dataset_files.py"],
    E + "nodules/preprocess.py": [T + "nodules/test_preprocess.py"],
    E + "imaging/metaimage_header.py": [T + "imaging/test_metaimage_header.py"],
    E + "imaging/tiff_spacing.py": [T + "imaging/test_tiff_spacing.py"],
    E + "imaging/dicom_read.py": [T + "imaging/test_dicom_read.py",
                                  T + "imaging/test_dicom_read_edges.py"],
    E + "imaging/tiff_stack.py": [T + "imaging/test_tiff_stack.py",
                                  T + "imaging/test_hostile_files.py",
                                  T + "imaging/test_tiff_stack_edges.py"],
    E + "imaging/dicom_series.py": [T + "imaging/test_dicom_read.py",
                                    T + "imaging/test_dicom_read_edges.py",
                                    T + "imaging/test_hostile_files.py",
                                    T + "imaging/test_dicom_series_edges.py"],
    E + "imaging/itk_io.py": [T + "imaging/test_itk_io.py", T + "imaging/test_itk_io_edges.py"],
    E + "imaging/volume_io.py": [T + "imaging/test_volume_io.py",
                                 T + "imaging/test_volume_io_edges.py"],
    E + "core/config.py": [T + "core/test_config.py"],
    E + "core/review.py": [T + "core/test_review.py", T + "core/test_review_autosave.py",
                           T + "core/test_review_document.py"],
    E + "core/review_export.py": [T + "core/test_review.py", T + "core/test_review_export.py"],
    E + "core/progress.py": [T + "core/test_progress_forward.py",
                             T + "core/test_progress_registry_training.py",
                             T + "core/test_progress_registry.py"],
    E + "core/registry.py": [T + "core/test_progress_registry_training.py",
                             T + "core/test_progress_registry.py"],
    E + "core/batch.py": [T + "core/test_batch.py"],
    E + "core/inference.py": [T + "core/test_inference.py"],
    E + "core/model.py": [T + "core/test_model.py"],
    E + "core/device.py": [T + "core/test_progress_registry_training.py", T + "core/test_device.py"],
    E + "cdc/images.py": [T + "cdc/test_images.py", T + "cdc/test_images_exact.py"],
    E + "core/training.py": [T + "core/test_fit.py", T + "core/test_fit_details.py",
                             T + "core/test_training_parts.py",
                             T + "core/test_progress_registry_training.py"],
    E + "core/samples.py": [T + "core/test_samples.py"],
    E + "core/resources.py": [T + "core/test_resources.py"],
    E + "core/errors.py": [T + "core/test_errors.py"],
}

#: seconds added to each mutant's estimated test time before mutmut's multiplier (its default
#: of 1 s timed out killable mutants at load 8 on two cores)
TIMEOUT_CONSTANT_S = 15.0
#: tests of a scoped file that mutation runs leave out: each takes seconds to tens of seconds
#: (a fuzzer worker pool, SIGKILLs at random moments, a traced 10 MB read, hypothesis over whole
#: files) and would run again for every mutant of the functions it touches. `make test` runs
#: them; a mutant only they would catch shows up as a survivor.
_FUZZ = T + "spectrum/test_readers_fuzz_regressions.py::"
SLOW: tuple[str, ...] = (
    T + "core/test_review_autosave.py::test_sidecar_survives_sigkill_at_random_moments",
    _FUZZ + "test_bracket_lines_cannot_make_the_tokenizer_backtrack",
    _FUZZ + "test_any_text_is_a_valid_spectrum_or_an_input_error",
    _FUZZ + "test_memory_follows_the_channels_not_the_text",
    _FUZZ + "test_many_spectra_in_one_measurement",
    T + "cdc/test_io_fuzz_regressions.py::test_fill_value_giants_are_refused_at_once",
    T + "cdc/test_io_fuzz_regressions.py::test_many_empty_events_summarise_fast",
    # a Dask cluster per forked mutant: minutes each (its mutants time out instead of failing)
    T + "core/test_batch.py::test_a_whole_run_then_a_rerun_that_skips_what_is_done",
)

_COPY = ("engines", "tests", "resources", "pyproject.toml")
_RESULT = re.compile(r"^\s+(\S+): (.+)$")


def _scratch(module: str, tests: list[str]) -> Path:
    work = _scratch_of(module)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in _COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", ".hypothesis", "mutants"))
        elif src.exists():
            shutil.copy2(src, work / name)
    # the shared data next to the repository (tests that read real files look for ../shared)
    shared = ROOT.parent / "shared"
    if shared.exists() and not (work.parent / "shared").exists():
        (work.parent / "shared").symlink_to(shared)
    _configure(work, module, tests)
    return work


def _configure(work: Path, module: str, tests: list[str]) -> None:
    """The scratch copy's ``[tool.mutmut]``: only ``module``, only ``tests`` (less SLOW)."""
    quoted = ", ".join(f'"{t}"' for t in [*tests, *(a for slow in SLOW
                                                     for a in ("--deselect", slow))])
    config = (f'[tool.mutmut]\nsource_paths = ["engines"]\nonly_mutate = ["{module}"]\n'
              f"pytest_add_cli_args_test_selection = [{quoted}]\n"
              'pytest_add_cli_args = ["-p", "no:randomly", "-p", "no:cacheprovider", "-q", '
              '"-x"]\ntimeout_multiplier = 4.0\n'
              # mutmut's wall limit is (estimated + constant) x multiplier, where "estimated"
              # is the tests' call time only: a forked pytest under load needs seconds more
              # than that (fixtures, collection), so a small constant times out mutants the
              # tests do kill
              f"timeout_constant = {TIMEOUT_CONSTANT_S}\n")
    for pyproject in (work / "pyproject.toml", work / "mutants" / "pyproject.toml"):
        if pyproject.exists():
            text = (ROOT / "pyproject.toml").read_text()
            head, _, rest = text.partition("[tool.mutmut]")
            tail = rest[rest.index("\n["):] if "\n[" in rest else ""
            pyproject.write_text(head + config + tail)


def _scratch_of(module: str) -> Path:
    return Path(tempfile.gettempdir()) / "lablens-mutate" / module.replace("/", "_")


def merge(current: dict[str, str], previous: dict[str, str], rechecked: set[str] | None
          ) -> dict[str, str]:
    """Each mutant's status after a run: what mutmut reports for the mutants it checked;
    for those a ``--rerun`` left alone, their status in ``previous`` (the scratch folder's
    ``statuses.json``), or "killed" when a run older than that file left them out of
    ``not_killed.txt`` (``rechecked``: the names it listed; None after a full run)."""
    merged = {}
    for name, status in current.items():
        if status == "not checked" and rechecked is not None and name not in rechecked:
            status = previous.get(name, "killed")
        merged[name] = status
    return merged


def counts_of(statuses: dict[str, str]) -> dict[str, int]:
    """Mutants, killed, timed out, survived, no tests and other statuses; the kill rate
    counts killed and timed-out mutants over all."""
    status = Counter(statuses.values())
    counts = {"mutants": sum(status.values()), "killed": status["killed"],
              "timeout": status["timeout"], "survived": status["survived"],
              "no_tests": status["no tests"]}
    counts["other"] = counts["mutants"] - sum(counts[k] for k in (
        "killed", "timeout", "survived", "no_tests"))
    return counts


def run(module: str, tests: list[str], max_children: int, rerun: bool = False,
        report: bool = False) -> dict[str, int]:
    """Mutate ``module`` in a fresh scratch copy; with ``rerun``, only re-check the mutants
    the last run there did not kill, against the tests as they are now (the module itself
    must be unchanged since that run); with ``report``, run nothing and count again."""
    mutmut = Path(sys.executable).with_name("mutmut")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1",
               # a worktree away from ../shared passes the real spectra's folder in this variable
               LABLENS_SHARED_SPECTRA=os.environ.get(
                   "LABLENS_SHARED_SPECTRA", str(ROOT.parent / "shared" / "data" / "spectra")))
    started = time.monotonic()
    work = _scratch_of(module)
    rechecked: set[str] | None = None
    if (rerun or report) and (work / "not_killed.txt").is_file():
        names = (work / "not_killed.txt").read_text().split()
        rechecked = set(names)
    if rerun and rechecked is not None:
        if (ROOT / module).read_bytes() != (work / module).read_bytes():
            raise SystemExit(f"{module} changed since its last run: run it again in full")
        for test in tests:  # test files new since that run included
            for copy in (work / test, work / "mutants" / test):
                shutil.copy2(ROOT / test, copy)
        _configure(work, module, tests)
        subprocess.run([str(mutmut), "run", "--max-children", str(max_children), *names],
                       cwd=work, env=env, check=False, stdout=subprocess.DEVNULL)
    elif not report:
        work = _scratch(module, tests)
        subprocess.run([str(mutmut), "run", "--max-children", str(max_children)], cwd=work,
                       env=env, check=False, stdout=subprocess.DEVNULL)
    out = subprocess.run([str(mutmut), "results", "--all", "true"], cwd=work, env=env,
                         capture_output=True, text=True, check=False).stdout
    current = {m.group(1): m.group(2) for line in out.splitlines()
               if (m := _RESULT.match(line))}
    saved = work / "statuses.json"
    previous = json.loads(saved.read_text()) if saved.is_file() and rechecked else {}
    statuses = merge(current, previous, rechecked)
    counts = counts_of(statuses)
    tested = counts["mutants"] - counts["no_tests"]
    rate = 100 * (counts["killed"] + counts["timeout"]) / max(counts["mutants"], 1)
    print(f"| `{module}` | {counts['mutants']} | {counts['killed']} | {counts['timeout']} | "
          f"{counts['survived']} | {counts['no_tests']} | {rate:.0f} % |"
          f"  ({time.monotonic() - started:.0f} s, tested {tested}, other {counts['other']})")
    saved.write_text(json.dumps(statuses, indent=0, sort_keys=True))
    (work / "not_killed.txt").write_text("".join(
        f"{name}\n" for name, status in statuses.items() if status != "killed"))
    print(f"not killed: {work / 'not_killed.txt'}; `mutmut show NAME` in {work}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="+")
    parser.add_argument("--tests", nargs="*", default=None)
    parser.add_argument("--max-children", type=int, default=1)
    parser.add_argument("--rerun", action="store_true",
                        help="re-check only the last run's survivors against the current tests")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: count the last run's results again")
    args = parser.parse_args(argv)
    modules = [m for given in args.modules for m in (
        [given] if given.endswith(".py") else
        [k for k in SCOPES if k.startswith(given.rstrip("/") + "/")])]
    for module in modules:
        tests = args.tests or SCOPES.get(module)
        if not tests:
            parser.error(f"{module}: no tests scoped in tests/mutation.py SCOPES; pass --tests")
        run(module, tests, args.max_children, args.rerun, args.report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
