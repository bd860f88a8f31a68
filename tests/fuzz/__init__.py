"""In-project mutation fuzzer for the file readers (spectra: CSV, .Spe, .cnf, N42; CDC events:
HDF5, ROOT).

``seeds`` builds valid files with the project's writers, ``mutators`` and ``structured`` turn
them into hostile variants (seeded, deterministic), ``targets`` reads a case as the CLI's
``info`` verb does and classifies the outcome, ``runner`` runs cases in worker processes with a
10 s alarm and a 2 GiB address-space limit, prints a table per format and minimises failures
into ``cases/`` (regression tests: ``test_fuzz_cases.py``). ``make test`` runs a short smoke
run (``test_fuzz_smoke.py``); ``make fuzz N=20000`` a long one.
"""
