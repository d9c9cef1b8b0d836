"""``python -m compare <command> [options]``: the front door of the toolkit (issue 5).

Dispatch, validation and exit codes, once for every subcommand:

* each subcommand is a module ``compare/<name>.py`` with ``NAME``, ``HELP``,
  ``add_arguments(parser)``, ``validate(args)``, ``run(args, out_dir) -> Verdict`` and
  ``quick_args()``; modules are imported lazily, so a missing or broken one does not
  break the others;
* a bad value (``ValueError`` from validation) or an argparse error prints one line
  ``error: ...`` to stderr and exits 2, never a traceback; an unknown subcommand too;
* ``--quick`` applies the module's ``quick_args()`` (a tiny budget) before the user's own
  options, which therefore still win;
* a completed run writes ``DIR/verdict.json`` (+ raw data and figures), prints the summary
  table and exits 0 (a failed check is a finding, not an error); with ``--strict`` it
  exits 1 if any check fails;
* the engine options (``--workers``, ``--scheduler``, ``--store``, ``--from-store``,
  ``--overwrite``) are refused, one line, exit 2, by a subcommand not yet ported to the
  experiment engine (one without ``COMPARISON`` or ``ENGINE = True``).

Start-up stays light: ``python -m compare --help`` reads each subcommand's ``HELP`` from its
source without importing it, and matplotlib (Agg), numpy, scipy, sympy, xarray, dask and zarr
are imported only by the subcommand that runs.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import sys
import time

__all__ = ["COMMANDS", "main", "load_command", "build_parser"]

#: Registered subcommands, in the order ``all`` runs them (modules compare/<name>.py).
COMMANDS = [
    "phase3",
    "phase1",
    "phase2",
    "ode",
    "tradeoff",
    "critical",
    "dnn",
    "speedup",
    "remark7",
    "sweep",
    "all",
]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message):
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def load_command(name: str):
    """Import and return the module of subcommand ``name`` (ImportError if unavailable)."""
    if name not in COMMANDS:
        raise ValueError(f"command must be one of {', '.join(COMMANDS)}, got {name!r}")
    return importlib.import_module(f"compare.{name}")


def command_help(name: str) -> str:
    """The ``HELP`` string of subcommand ``name``, read from its source without importing it."""
    spec = importlib.util.find_spec(f"compare.{name}")
    if spec is None or not spec.origin:
        return ""
    try:
        tree = ast.parse(open(spec.origin, encoding="utf-8").read())
    except (OSError, SyntaxError):
        return ""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "HELP" for t in node.targets):
            try:
                return str(ast.literal_eval(node.value))
            except ValueError:
                return ""
    return ""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser. With ``only``, that subcommand is imported and its options
    registered; without, every subcommand is listed with its help, none imported."""
    parser = _Parser(
        prog="python -m compare", description="Compare Async-MSGD with the paper's ODE/SDE limits."
    )
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    if only is None:
        for name in COMMANDS:
            sub.add_parser(name, help=command_help(name), add_help=False)
        return parser
    mod = load_command(only)
    p = sub.add_parser(only, help=getattr(mod, "HELP", ""), description=getattr(mod, "HELP", ""))
    mod.add_arguments(p)
    return parser


def key_params(mod, args) -> dict:
    """Parameters naming the default output directory: ``mod.key_params(args)`` if the module
    defines it, else eta (and mu, tau when the command has them)."""
    if hasattr(mod, "key_params"):
        return mod.key_params(args)
    out = {"eta": args.eta}
    for k in ("mu", "tau"):
        if hasattr(args, k):
            out[k] = getattr(args, k)
    return out


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m compare`` with ``argv``; return the exit status (0, 1 with --strict, 2)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and not argv[0].startswith("-") else None
    if command is not None and command not in COMMANDS:
        return _fail(f"unknown command {command!r}; choose from {', '.join(COMMANDS)}")
    try:
        parser = build_parser(command)
    except ImportError as exc:
        return _fail(f"command {command!r} is not available: {exc}")
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        return _fail(str(exc))
    if args.command is None:
        # one line, as for every usage error; `python -m compare -h` prints the full help
        return _fail(f"a command is required; choose from {', '.join(COMMANDS)} (or -h for help)")
    import matplotlib

    matplotlib.use("Agg")
    from compare import cli

    mod = load_command(args.command)
    if args.quick and args.command != "all":
        # --quick = the module's tiny budget, under any option the user gave explicitly
        # (argparse keeps the last occurrence). `all` passes --quick on to each subcommand.
        try:
            args = parser.parse_args([args.command, *mod.quick_args(), *argv[1:]])
        except _UsageError as exc:
            return _fail(str(exc))
    try:
        cli.validate_common(args)
        mod.validate(args)
        given = cli.engine_options_given(args)
        on_engine = hasattr(mod, "COMPARISON") or getattr(mod, "ENGINE", False)
        if given and not on_engine and args.command != "all":
            raise ValueError(f"{given[0]}: {args.command} is not ported to the experiment engine yet")
    except ValueError as exc:
        return _fail(str(exc))
    out_dir = cli.output_dir(args, args.command, key_params(mod, args))
    start = time.perf_counter()
    try:
        verdict = mod.run(args, out_dir)
    except ValueError as exc:  # engine problems (store, scheduler) found while running: one line
        from compare.engine import EngineError, StoreError

        if not isinstance(exc, (EngineError, StoreError)):
            raise
        return _fail(str(exc))
    if not verdict.elapsed_s:
        verdict.elapsed_s = time.perf_counter() - start
    path = verdict.write(out_dir)
    print(verdict.summary_table())
    print(f"verdict: {path}")
    if args.strict and not verdict.all_hold:
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
