"""Headless command line: ``python main.py <workspace> <verb> [options]``.

No arguments opens the GUI. Exit status: 0 on success, 2 on bad input (a one-line message that
names the file and the problem, no traceback), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys

from engines.core.errors import LabLensError


def build_parser() -> argparse.ArgumentParser:
    """One sub-command per registered workspace (``app.workspaces.WORKSPACES``), with its own
    verbs plus the shared ``batch`` verb when the workspace has a batch job. The CLI modules
    stay light: engines and torch are imported inside the verb handlers."""
    from app.cli.batch import add_batch_verb
    from app.workspaces import WORKSPACES

    parser = argparse.ArgumentParser(
        prog="main.py", description="LabLens analysis workbench. Without arguments: open the GUI.")
    workspaces = parser.add_subparsers(dest="workspace", metavar="WORKSPACE", required=True)
    for spec in WORKSPACES:
        module = spec.load_cli()
        if module is None:
            continue
        sub = workspaces.add_parser(spec.name, help=module.__doc__.splitlines()[0])
        verbs = module.register(sub)
        if spec.batch is not None:
            add_batch_verb(verbs, spec)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        from app.gui import run_gui

        return run_gui()
    if argv[0] == "gui":
        from app.gui import run_gui

        return run_gui(argv[1] if len(argv) > 1 else None)
    return run_handler(build_parser().parse_args(argv))


def run_handler(args: argparse.Namespace) -> int:
    """Run a parsed verb: its exit status, 2 with one line on bad input, 130 on Ctrl-C.

    Python warnings raised while it runs (pydicom and tifffile warn about the files they
    repair) are held back: a failed verb prints only its error line, a finished one prints
    each distinct warning as one ``warning: ...`` line after its output."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        try:
            status = int(args.handler(args) or 0)
        except LabLensError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error of ours
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    for message in dict.fromkeys(" ".join(str(w.message).split()) for w in caught):
        print(f"warning: {message[:300]}", file=sys.stderr)
    return status
