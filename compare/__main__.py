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
import os
import sys
import time

__all__ = [
    "COMMANDS",
    "main",
    "load_command",
    "build_parser",
    "parse_command",
    "given_options",
    "version_string",
]

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

    def parse_known_args(self, args=None, namespace=None):
        # argparse turns `--opt=--` into [] for a one-value option: refuse it by name
        namespace, extras = super().parse_known_args(args, namespace)
        for action in self._actions:
            one_value = action.nargs is None and action.option_strings and action.type is not None
            if one_value and isinstance(getattr(namespace, action.dest, None), list):
                self.error(f"{action.option_strings[-1]} expects one value")
        return namespace, extras


class _UsageError(Exception):
    pass


def load_command(name: str):
    """Import and return the module of subcommand ``name`` (ImportError if unavailable).

    Parameters
    ----------
    name : str
        One of :data:`COMMANDS` (else ValueError).

    Returns
    -------
    module
        ``compare.<name>``.
    """
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
    """The top-level parser.

    Parameters
    ----------
    only : str, optional
        With a subcommand name, that subcommand is imported and its options registered;
        without, every subcommand is listed with its help, none imported.

    Returns
    -------
    argparse.ArgumentParser
        Errors raise instead of exiting (:func:`main` prints them on one line).
    """
    parser = _Parser(
        prog="python -m compare", description="Compare Async-MSGD with the paper's ODE/SDE limits."
    )
    parser.add_argument("--version", action=VersionAction, help="print the package version and git commit")
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
    """Parameters naming the default output directory.

    Parameters
    ----------
    mod : module
        The subcommand's module; its ``key_params(args)`` is used when it defines one.
    args : argparse.Namespace
        The validated options.

    Returns
    -------
    dict
        ``mod.key_params(args)``, else eta (and mu, tau when the command has them).
    """
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


def given_options(parser: argparse.ArgumentParser, argv: list[str]) -> frozenset:
    """The argparse dests the user typed explicitly in ``argv`` (not their defaults).

    ``argv`` is parsed a second time with every default suppressed, so only the options
    present on the command line appear in the namespace (the subcommand name excluded).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        A parser from :func:`build_parser` (its defaults are left unchanged).
    argv : list of str
        The user's command line, subcommand first.

    Returns
    -------
    frozenset of str
        The dests given explicitly, e.g. ``frozenset({"runs", "horizon", "quick"})``.
    """
    saved = []

    def suppress(p: argparse.ArgumentParser) -> None:
        saved.append((p, None, dict(p._defaults)))
        p._defaults.clear()
        for action in p._actions:
            saved.append((p, action, action.default))
            action.default = argparse.SUPPRESS
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    suppress(sub)

    suppress(parser)
    try:
        ns = parser.parse_args(argv)
    finally:
        for p, action, default in reversed(saved):
            if action is None:
                p._defaults.update(default)
            else:
                action.default = default
    return frozenset(k for k in vars(ns) if k != "command")


def parse_command(argv: list[str]) -> argparse.Namespace:
    """Parse ``argv`` (subcommand first) into validated-ready options with ``--quick`` applied.

    ``--quick`` sets the module's ``quick_args()`` only for the options the user did not give
    (:attr:`given_options`); ``args.given_options`` is the frozenset of the dests typed
    explicitly. ``all`` passes ``--quick`` on to each subcommand instead.

    Parameters
    ----------
    argv : list of str
        Command line without the program name; ``argv[0]`` is a registered subcommand.

    Returns
    -------
    argparse.Namespace
        The parsed options, with ``given_options``.

    Raises
    ------
    ValueError
        An argparse error (unknown option, bad type), as one line.
    """
    command = argv[0] if argv else None
    parser = build_parser(command)
    try:
        args = parser.parse_args(argv)
        given = given_options(parser, argv)
        if getattr(args, "quick", False) and args.command != "all":
            mod = load_command(args.command)
            quick = build_parser(command).parse_args([command, *mod.quick_args()])
            for dest in given_options(parser, [command, *mod.quick_args()]) - given:
                setattr(args, dest, getattr(quick, dest))
    except _UsageError as exc:
        raise ValueError(str(exc)) from None
    args.given_options = given
    return args


class VersionRequested(Exception):
    """Raised by ``--version`` to end parsing; :func:`main` prints the version and exits 0."""


class VersionAction(argparse.Action):
    """``--version``: end parsing; :func:`main` prints :func:`version_string` and exits 0.

    Parameters
    ----------
    option_strings : list of str
        The flags (``["--version"]``).
    dest : str
        Unused (nothing is stored).
    default : object
        Unused.
    help : str, optional
        Help text.
    """

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        """Raise :class:`VersionRequested` (argparse calls this when ``--version`` is met).

        Parameters
        ----------
        parser : argparse.ArgumentParser
        namespace : argparse.Namespace
        values : list
        option_string : str, optional
        """
        raise VersionRequested()


def version_string() -> str:
    """The ``--version`` line.

    Returns
    -------
    str
        ``"async-msgd-diffusion <version> (git <commit>)"``; the commit is ``unknown`` outside a
        git checkout.
    """
    from importlib.metadata import PackageNotFoundError, version

    from compare.verdict import _git_commit

    try:
        v = version("async-msgd-diffusion")
    except PackageNotFoundError:  # pragma: no cover - not installed
        v = "unknown"
    return f"async-msgd-diffusion {v} (git {_git_commit() or 'unknown'})"


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m compare`` with ``argv``.

    Parameters
    ----------
    argv : list of str, optional
        Command line without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 (done), 1 (``--strict`` and a check fails), 2 (usage, bad value,
        refused run, internal error), 130 (interrupted).
    """
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and not argv[0].startswith("-") else None
    if command is not None and command not in COMMANDS:
        return _fail(f"unknown command {command!r}; choose from {', '.join(COMMANDS)}")
    if command is None and argv and argv[0] == "--version":
        print(version_string())
        return 0
    try:
        args = parse_command(argv) if command else build_parser(None).parse_args(argv)
    except VersionRequested:
        print(version_string())
        return 0
    except ImportError as exc:
        return _fail(f"command {command!r} is not available: {exc}")
    except (ValueError, _UsageError) as exc:
        return _fail(str(exc))
    if args.command is None:
        # one line, as for every usage error; `python -m compare -h` prints the full help
        return _fail(f"a command is required; choose from {', '.join(COMMANDS)} (or -h for help)")
    import matplotlib

    matplotlib.use("Agg")
    from compare import cli

    mod = load_command(args.command)
    try:
        cli.validate_common(args)
        mod.validate(args)
        given = cli.engine_options_given(args)
        on_engine = hasattr(mod, "COMPARISON") or getattr(mod, "ENGINE", False)
        if given and not on_engine and args.command != "all":
            raise ValueError(f"{given[0]}: {args.command} is not ported to the experiment engine yet")
        out_dir = cli.output_dir(args, args.command, key_params(mod, args))
        made = _missing_dirs(out_dir)
        cli.check_out_dir(out_dir)
        cli.apply_threads(args)
    except ValueError as exc:
        return _fail(str(exc))
    code = None
    try:
        code = _run(mod, args, out_dir)
        return code
    finally:
        if code not in (0, 1):  # refused, failed or interrupted: no empty directory left behind
            for d in made:
                try:
                    d.rmdir()
                except OSError:
                    break


def _missing_dirs(path) -> list:
    """``path`` and its parents that do not exist yet, deepest first."""
    from pathlib import Path

    out, p = [], Path(path)
    while not p.exists() and p != p.parent:
        out.append(p)
        p = p.parent
    return out


def _run(mod, args, out_dir) -> int:
    """Run the validated command, write and print its verdict; the safety net around it."""
    start = time.perf_counter()
    try:
        verdict = mod.run(args, out_dir)
        if not verdict.elapsed_s:
            verdict.elapsed_s = time.perf_counter() - start
        try:
            path = verdict.write(out_dir)
        except OSError as exc:  # checked writable before the run; the disk may fill or vanish since
            return _fail(f"--out {out_dir}: cannot write the results: {exc.strerror or exc}")
    except KeyboardInterrupt:
        raise
    except MemoryError:
        return _fail(
            "out of memory (MemoryError): the run needed more memory than this machine gave it; "
            "reduce --runs or the horizon, or lower --max-memory so that the estimate guard refuses "
            "such a run before it starts"
        )
    except Exception as exc:  # noqa: BLE001 - the safety net: one line, never a traceback
        from compare.engine import EngineError, StoreError

        if isinstance(exc, (EngineError, StoreError)):  # engine problems found while running
            return _fail(str(exc))
        if isinstance(exc, ValueError) and str(exc).startswith("--"):  # a refusal naming its option
            return _fail(str(exc))  # (e.g. a resource guard a command checks inside run)
        if os.environ.get("COMPARE_DEBUG") == "1":
            raise
        return _fail(
            f"internal error: {type(exc).__name__}: {exc} (rerun with COMPARE_DEBUG=1 for the traceback)"
        )
    print(verdict.summary_table())
    print(f"verdict: {path}")
    if args.strict and not verdict.all_hold:
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
