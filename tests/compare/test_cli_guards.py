"""The shared guards of ``python -m compare`` (issue 13), one mechanism each, tested in-process.

A fake subcommand (the common options, a ``--horizon``, a ``run`` the test controls) stands in for
the real ones, so that nothing here simulates: what is under test is the CLI's own machinery
(given options, ``--quick``, refusals before work, ``--out``, stale files, the safety net, the
resource guard, the display of what was not measured). Deterministic: no statistics.
"""

from __future__ import annotations

import json
import math
import re
import sys
import types
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
import pytest

from compare import __main__ as entry
from compare import checks, cli
from compare.__main__ import main, parse_command
from compare.engine import Cell, Spec, pipeline
from compare.engine.estimate import Estimate, check_fits, step_limit
from compare.verdict import Check, Verdict

QUICK = ["--runs", "3", "--horizon", "0.25"]


def _one_line(capsys, start: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {start}"), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def fake(monkeypatch):
    """Register ``compare.fakecmd``: common options, ``--horizon``, ``--figs``; run = ``fake.behaviour``."""
    mod = types.ModuleType("compare.fakecmd")
    mod.NAME, mod.HELP, mod.ENGINE = "fakecmd", "a stand-in subcommand", True
    mod.calls = []

    def add_arguments(parser):
        cli.add_common_arguments(parser)
        parser.add_argument("--horizon", type=float, default=2.0)
        parser.add_argument("--figs", default="a")

    def default_run(args, out_dir):
        figs = []
        for name in args.figs.split(","):
            (out_dir / f"{name}.png").write_bytes(b"png")
            figs.append(f"{name}.png")
        return Verdict(
            "fakecmd", cli.common_parameters(args), args.seed, figures=figs, raw={"x": np.arange(3.0)}
        )

    def run(args, out_dir):
        mod.calls.append(args)
        return mod.behaviour(args, out_dir)

    mod.add_arguments, mod.validate, mod.quick_args, mod.run = (
        add_arguments,
        (lambda a: None),
        (lambda: QUICK),
        run,
    )
    mod.behaviour = default_run
    monkeypatch.setitem(sys.modules, "compare.fakecmd", mod)
    monkeypatch.setattr(entry, "COMMANDS", [*entry.COMMANDS, "fakecmd"])
    return mod


# -- given_options and --quick --------------------------------------------------------------
def test_given_options_are_the_typed_dests_and_defaults_survive(fake):
    args = parse_command(
        ["fakecmd", "--runs", "7", "--eta=1e-3", "--no-progress", "--delay-model", "uniform"]
    )
    assert args.given_options == frozenset({"runs", "eta", "no_progress", "delay_model"})
    assert args.runs == 7 and args.seed == 0 and args.horizon == 2.0
    again = parse_command(["fakecmd"])  # the second, default-suppressed parse restored every default
    assert again.given_options == frozenset()
    assert (again.runs, again.horizon, again.tau, again.out) == (100, 2.0, "auto", None)


def test_quick_sets_only_what_the_user_did_not(fake):
    args = parse_command(["fakecmd", "--quick", "--runs", "7"])
    assert (args.runs, args.horizon) == (7, 0.25)
    assert args.given_options == frozenset({"quick", "runs"})
    args = parse_command(["fakecmd", "--horizon", "0.5", "--quick"])  # order does not matter
    assert (args.runs, args.horizon) == (3, 0.5)
    assert parse_command(["fakecmd", "--runs", "7"]).runs == 7  # no --quick: no quick budget


def test_quick_keeps_the_users_runs_and_horizon_of_tradeoff():
    args = parse_command(["tradeoff", "--quick", "--runs", "7", "--horizon", "0.5"])
    quick = dict(zip(*[iter(entry.load_command("tradeoff").quick_args())] * 2, strict=True))
    assert (args.runs, args.horizon) == (7, 0.5)
    assert args.mus == quick["--mus"] and args.taus == quick["--taus"]  # the rest of the quick budget


# -- refusals before work ---------------------------------------------------------------------
REFUSED = [
    (["--delay-model", "geometric", "--tau", "0"], "--tau applies to --delay-model constant only"),
    (["--delay-model", "uniform", "--tau", "3"], "--tau applies"),
    (["--tau-max", "3"], "--tau-max applies to --delay-model uniform only"),
    (["--delay-model", "geometric", "--tau-max", "3"], "--tau-max applies"),
    (["--delay-model", "uniform", "--mean-delay", "2"], "--mean-delay applies"),
    (["--pipeline-workers", "3"], "--pipeline-workers applies"),
    (["--delay-model", "geometric", "--mean-delay", "0"], "--mean-delay must be"),
    (["--threads", "0"], "--threads"),
    (["--threads", "100000"], "--threads"),
    (["--max-memory", "-1"], "--max-memory"),
    (["--max-memory", "nan"], "--max-memory"),
    (["--max-steps", "0"], "--max-steps"),
    (["--max-steps", "inf"], "--max-steps"),
    (["--from-store", "s.zarr", "--workers", "2"], "--workers does not apply with --from-store"),
    (["--seed", str(2**64)], "--seed must be at most 2^63 - 1"),  # netCDF/zarr store it as int64
    (["--seed", "-1"], "--seed"),
    (["--eta=--"], "--eta expects one value"),  # argparse gives [] for `--opt=--`
    (["--delay-model", "geometric", "--mean-delay=--"], "--mean-delay expects one value"),
]


@pytest.mark.parametrize(("extra", "start"), REFUSED)
def test_inapplicable_or_bad_options_are_refused_before_work(fake, extra, start, capsys, tmp_path):
    fake.behaviour = lambda args, out: pytest.fail("must not run")
    assert main(["fakecmd", *extra, "--out", str(tmp_path / "o")]) == 2
    _one_line(capsys, start)


def test_the_model_options_of_the_chosen_model_are_accepted(fake, capsys, tmp_path):
    for extra in (
        ["--delay-model", "uniform", "--tau-max", "3"],
        ["--delay-model", "pipeline"],
        ["--tau", "2"],
    ):
        assert main(["fakecmd", *extra, "--out", str(tmp_path / "o")]) == 0, capsys.readouterr().err


def test_parameters_record_the_delay_as_resolved(fake):
    def params(*argv):
        args = parse_command(["fakecmd", *argv])
        cli.validate_common(args)
        return cli.common_parameters(args)

    problem = cli.problem_from_args(parse_command(["fakecmd"]))
    auto = cli.default_tau(problem, 0.9, 5e-4)
    assert auto >= 1  # the paper's setting has a positive automatic delay
    p = params()
    assert (p["tau"], p["tau_from"]) == (auto, "auto")
    assert isinstance(p["tau"], int)
    p = params("--tau", "3")
    assert p["tau"] == 3 and "tau_from" not in p
    p = params("--delay-model", "uniform")
    assert (p["tau_max"], p["mean_delay"]) == (2 * auto, auto) and "tau" not in p
    assert p["tau_max_from"] == f"tau auto ({auto})"
    p = params("--delay-model", "geometric", "--mean-delay", "2.5")
    assert p["mean_delay"] == 2.5 and not {"tau", "tau_max", "pipeline_workers"} & set(p)
    p = params("--delay-model", "pipeline", "--pipeline-workers", "4")
    assert (p["pipeline_workers"], p["mean_delay"]) == (4, 3.0)  # M - 1 for equal-speed workers


# -- --out ---------------------------------------------------------------------------------------
def test_out_is_checked_before_any_work(fake, capsys, tmp_path):
    fake.behaviour = lambda args, out: pytest.fail("must not run")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["fakecmd", "--out", str(a_file)]) == 2
    _one_line(capsys, f"--out {a_file} exists and is not a directory")
    assert main(["fakecmd", "--out", str(a_file / "sub")]) == 2
    _one_line(capsys, f"--out {a_file / 'sub'} cannot be created")
    assert a_file.read_text() == "x"
    assert main(["fakecmd", "--out", " "]) == 2
    _one_line(capsys, "--out must name a directory")


def test_out_unwritable_directory_is_refused_and_the_probe_removed(fake, capsys, tmp_path, monkeypatch):
    fake.behaviour = lambda args, out: pytest.fail("must not run")
    real = type(tmp_path).write_bytes

    def refuse(self, data):  # root ignores permission bits: refuse the probe as a read-only fs would
        if self.name.startswith(".compare-write-probe"):
            raise PermissionError(13, "Permission denied")
        return real(self, data)

    monkeypatch.setattr(type(tmp_path), "write_bytes", refuse)
    assert main(["fakecmd", "--out", str(tmp_path / "ro")]) == 2
    _one_line(capsys, f"--out {tmp_path / 'ro'} is not writable: Permission denied")
    monkeypatch.undo()
    assert cli.check_out_dir(tmp_path / "ok" / "deep") == tmp_path / "ok" / "deep"
    assert list((tmp_path / "ok" / "deep").iterdir()) == []  # the probe is gone


# -- stale files ------------------------------------------------------------------------------------
def test_a_rerun_leaves_no_stale_files_and_deletes_nothing_else(fake, capsys, tmp_path):
    out = tmp_path / "o"
    assert main(["fakecmd", "--figs", "a,b", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"a.png", "b.png", "raw.nc", "verdict.json"}
    assert json.loads((out / "verdict.json").read_text())["files"] == [
        "verdict.json",
        "raw.nc",
        "a.png",
        "b.png",
    ]
    (out / "cells.zarr").mkdir()
    (out / "cells.zarr" / "zarr.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    outside = tmp_path / "outside.png"
    outside.write_text("keep")
    # a previous verdict.json may list anything: only files inside out, not the store, are removed
    doc = json.loads((out / "verdict.json").read_text())
    doc["files"] += ["../outside.png", str(outside), "cells.zarr/zarr.json"]
    (out / "verdict.json").write_text(json.dumps(doc))
    assert main(["fakecmd", "--figs", "a", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"a.png", "raw.nc", "verdict.json", "cells.zarr", "notes.txt"}
    assert (out / "cells.zarr" / "zarr.json").is_file() and outside.read_text() == "keep"
    assert json.loads((out / "verdict.json").read_text())["files"] == ["verdict.json", "raw.nc", "a.png"]


# -- --version and --threads --------------------------------------------------------------------------
def test_version_prints_package_version_and_commit(fake, capsys):
    for argv in (["--version"], ["fakecmd", "--version"], ["fakecmd", "--runs", "3", "--version"]):
        assert main(argv) == 0
        out = capsys.readouterr().out.strip()
        m = re.fullmatch(r"async-msgd-diffusion (\S+) \(git ([0-9a-f]{40}|unknown)\)", out)
        assert m is not None, out
        assert m.group(1) == version("async-msgd-diffusion")


def test_threads_are_applied_before_the_run(fake, capsys, tmp_path):
    import numba

    seen = []

    def run(args, out):
        seen.append(numba.get_num_threads())
        return Verdict("fakecmd", {}, 0)

    fake.behaviour = run
    before = numba.get_num_threads()
    try:
        assert main(["fakecmd", "--threads", "1", "--out", str(tmp_path)]) == 0
        top = numba.config.NUMBA_NUM_THREADS
        assert main(["fakecmd", "--threads", str(top), "--out", str(tmp_path)]) == 0
    finally:
        numba.set_num_threads(before)
    assert seen == [1, top]


# -- the safety net -----------------------------------------------------------------------------------
def _raise(exc):
    def run(args, out):
        raise exc

    return run


def test_an_escaping_exception_is_one_line_internal_error(fake, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("COMPARE_DEBUG", raising=False)
    fake.behaviour = _raise(RuntimeError("every run diverged"))
    assert main(["fakecmd", "--out", str(tmp_path)]) == 2
    line = _one_line(capsys, "internal error: RuntimeError: every run diverged")
    assert line.endswith("(rerun with COMPARE_DEBUG=1 for the traceback)")
    monkeypatch.setenv("COMPARE_DEBUG", "1")
    with pytest.raises(RuntimeError, match="every run diverged"):
        main(["fakecmd", "--out", str(tmp_path)])


def test_memory_error_interrupt_and_late_refusals(fake, capsys, tmp_path):
    fake.behaviour = _raise(MemoryError())
    assert main(["fakecmd", "--out", str(tmp_path)]) == 2
    assert "--max-memory" in _one_line(capsys, "out of memory")
    fake.behaviour = _raise(KeyboardInterrupt())
    assert main(["fakecmd", "--out", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "error: interrupted\n"

    def unwritable(args, out):  # the directory vanishes (or the disk fills) during the run
        v = Verdict("fakecmd", {}, 0)
        v.write = lambda out_dir: _raise(OSError(28, "No space left on device"))(args, out_dir)
        return v

    fake.behaviour = unwritable
    assert main(["fakecmd", "--out", str(tmp_path)]) == 2
    _one_line(capsys, f"--out {tmp_path}: cannot write the results: No space left on device")
    fake.behaviour = _raise(ValueError("--horizon must be at least eta / 2"))  # a refusal naming its option
    assert main(["fakecmd", "--out", str(tmp_path)]) == 2
    _one_line(capsys, "--horizon must be at least eta / 2")


# -- the resource guard --------------------------------------------------------------------------------
def test_check_fits_names_the_estimate_the_limit_and_the_options():
    est = Estimate(memory_bytes=3 * 2**30, chain_steps=2.5e9, reduce=("--runs", "--horizon"))
    check_fits(est, 4 * 2**30, 3e9)  # fits both
    with pytest.raises(
        ValueError, match=r"^--max-memory: .* 3 GiB .* limit of 2 GiB; reduce --runs or --horizon"
    ):
        check_fits(est, 2 * 2**30)
    with pytest.raises(
        ValueError, match=r"^--max-steps: .* 2\.5e\+09 chain-steps, .* limit of 1e\+09; reduce --runs"
    ):
        check_fits(est, math.inf, 1e9)


def test_step_limit_from_option_or_environment(monkeypatch):
    monkeypatch.delenv("COMPARE_MAX_CHAIN_STEPS", raising=False)
    assert step_limit() == math.inf
    monkeypatch.setenv("COMPARE_MAX_CHAIN_STEPS", "1e6")
    assert step_limit() == 1e6 and step_limit(5.0) == 5.0
    monkeypatch.setenv("COMPARE_MAX_CHAIN_STEPS", "lots")
    with pytest.raises(ValueError, match="^COMPARE_MAX_CHAIN_STEPS"):
        step_limit()


def test_a_quick_run_has_a_default_work_limit_and_an_explicit_one_wins(monkeypatch):
    # --quick is a smoke test: 1e9 chain-steps unless --max-steps (or the environment) says otherwise
    monkeypatch.delenv("COMPARE_MAX_CHAIN_STEPS", raising=False)
    assert step_limit(quick=True) == 1e9
    assert step_limit(5e10, quick=True) == 5e10
    monkeypatch.setenv("COMPARE_MAX_CHAIN_STEPS", "2e9")
    assert step_limit(quick=True) == 2e9


def test_quick_tradeoff_pushed_past_the_quick_work_limit_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("COMPARE_MAX_CHAIN_STEPS", raising=False)
    # eta = 1e-9 makes the quick grid 6e10 chain-steps: refused before any cell, naming --max-steps
    assert main(["tradeoff", "--quick", "--eta", "1e-9", "--no-progress", "--out", str(tmp_path / "o")]) == 2
    _one_line(capsys, "--max-steps: this run needs an estimated 6e+10 chain-steps")


@dataclass(frozen=True)
class ToySpec(Spec):
    n: int = 2
    runs: int = 3


def toy_cell(params, seed, runs):
    """A cell without simulation: x[run] = n * run."""
    import xarray as xr

    return xr.Dataset(
        {"x": (("run",), params["n"] * np.arange(runs, dtype=float))}, coords={"run": np.arange(runs)}
    )


def _toy_comparison():
    def analyse(spec, ds, info):
        return Verdict("toy", {"n": spec.n}, 0, raw=ds)

    return pipeline.Comparison(
        name="toy",
        spec=ToySpec,
        from_args=lambda args: ToySpec(n=args.n, runs=args.runs),
        cells=lambda spec: [Cell("toy", "test_cli_guards:toy_cell", {"n": spec.n}, runs=spec.runs, seed=0)],
        analyse=analyse,
        figures=lambda spec, ds, verdict, out_dir, fmt: [],
        estimate=lambda spec: Estimate(
            memory_bytes=8 * spec.runs, chain_steps=1000.0 * spec.runs, reduce=("--runs",)
        ),
    )


@pytest.fixture
def toy(monkeypatch):
    """A fake engine subcommand ``compare.toycmd`` running :func:`_toy_comparison` (``--n``)."""
    mod = types.ModuleType("compare.toycmd")
    mod.NAME, mod.HELP, mod.COMPARISON = "toycmd", "a toy engine subcommand", _toy_comparison()

    def add_arguments(parser):
        cli.add_common_arguments(parser, runs_default=3)
        parser.add_argument("--n", type=int, default=2)

    mod.add_arguments, mod.validate, mod.quick_args = add_arguments, (lambda a: None), list
    mod.run = lambda args, out: pipeline.run_command(mod.COMPARISON, args, out)
    monkeypatch.setitem(sys.modules, "compare.toycmd", mod)
    monkeypatch.setattr(entry, "COMMANDS", [*entry.COMMANDS, "toycmd"])
    return mod


def test_work_guard_refuses_before_the_store_is_touched(toy, capsys, tmp_path):
    out = tmp_path / "o"
    assert main(["toycmd", "--runs", "5", "--max-steps", "4999", "--out", str(out)]) == 2
    line = _one_line(capsys, "--max-steps: this run needs an estimated 5e+03 chain-steps")
    assert "reduce --runs" in line
    assert not out.exists()  # nothing written, and the directory made for the run removed again
    assert main(["toycmd", "--runs", "5", "--max-memory", "1e-9", "--out", str(out)]) == 2  # 40 B > 1.07 B
    _one_line(capsys, "--max-memory: this run needs an estimated 40 B")
    assert main(["toycmd", "--runs", "5", "--max-steps", "5000", "--out", str(out)]) == 0


def test_a_default_store_of_another_spec_is_replaced_an_explicit_one_refused(toy, capsys, tmp_path):
    out = tmp_path / "o"
    assert main(["toycmd", "--n", "2", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["toycmd", "--n", "3", "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert re.search(
        r"note: replacing the default store .*cells\.zarr of an earlier run \(n differs", captured.err
    )
    import xarray as xr

    with xr.open_dataset(out / "raw.nc") as raw:
        assert raw["x"].values.tolist() == [0.0, 3.0, 6.0]  # the new spec's numbers, not the old store's
    store = tmp_path / "mine.zarr"
    assert main(["toycmd", "--n", "2", "--store", str(store), "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["toycmd", "--n", "4", "--store", str(store), "--out", str(out), "--no-progress"]) == 2
    _one_line(capsys, f"--store {store} was made by a different spec: n differs")


# -- nothing non-finite is a measurement -----------------------------------------------------------------
def test_a_check_cannot_hold_or_fail_on_a_non_finite_observation():
    for observed in (math.nan, math.inf, None, [1.0, math.nan]):
        for holds in (True, False):
            with pytest.raises(ValueError, match="^holds of c must be None"):
                Check("c", "eq. (8)", 1.0, observed, (0.0, 2.0), "rule", holds)
    assert Check("c", "eq. (8)", 1.0, math.nan, (0.0, 2.0), "rule", None).holds is None


def test_builders_return_not_measured_for_non_finite_values():
    common = {"name": "c", "equation": "eq. (8)", "tolerance": "rule"}
    made = [
        checks.interval_check(**common, predicted=1.0, estimate=math.nan, lo=0.0, hi=2.0),
        checks.interval_check(**common, predicted=1.0, estimate=1.0, lo=0.0, hi=math.inf),
        checks.interval_check(**common, predicted=math.inf, estimate=1.0, lo=0.0, hi=2.0),
        checks.bound_check(**common, predicted=None, observed=math.nan, upper=1.0),
        checks.bound_check(**common, predicted=None, observed=0.5, upper=1.0, interval=(math.nan, 0.9)),
        checks.proportion_at_least_check(name="p", equation="Prop. 10", p_min=0.5, k=0, n=0, level=0.95),
    ]
    for c in made:
        assert c.holds is None and c.observed is None and c.note.startswith("not measured")
    assert checks.interval_check(**common, predicted=1.0, estimate=1.1, lo=0.9, hi=1.3).holds is True


def test_the_table_and_json_never_show_nan_or_inf(tmp_path):
    common = {"name": "weak_convergence_order", "equation": "Theorem 3", "tolerance": "rule"}
    v = Verdict(
        "fakecmd",
        {},
        0,
        checks=[
            checks.interval_check(**common, predicted=1.0, estimate=math.nan, lo=math.nan, hi=math.nan),
            Check(
                "one_sided", "eq. (9)", 0.5, 0.7, (0.6, math.inf), "rule", True, acceptance=(0.5, math.inf)
            ),
            Check("nan_end", "eq. (9)", math.inf, 0.7, (math.nan, 0.8), "rule", None),
            Check("raw_nan", "eq. (9)", 0.5, [math.nan, -math.inf], (math.nan, math.nan), "rule", None),
        ],
        notes=[checks.divergence_note(412, 500)],
    )
    table = v.summary_table()
    assert not re.search(r"\b(nan|inf)\b", table, re.IGNORECASE), table
    row = next(line for line in table.splitlines() if line.startswith("weak_convergence_order"))
    assert "not measured" in row and "yes" not in row
    assert ">= 0.6" in table and ">= 0.5" in table  # the unbounded side of a one-sided interval
    assert (
        table.splitlines()[-1]
        == "note: 412 of 500 runs diverged (82%); checks on the runs' statistics use the other 88"
    )
    assert "1/4 checks hold (3 not measured)" in table
    raw_row = next(line for line in table.splitlines() if line.startswith("raw_nan"))
    assert raw_row.count("not measured") == 3  # observed, interval, holds
    doc = json.loads(v.write(tmp_path).read_text())
    assert doc["checks"][0]["observed"] is None and doc["checks"][0]["interval"] == [None, None]
    assert doc["checks"][0]["holds"] is None
    assert doc["notes"] == v.notes


def test_divergence_note_counts():
    assert checks.divergence_note(0, 10) == ""
    assert checks.divergence_note(10, 10).startswith("all 10 runs diverged")
    assert checks.divergence_note(1, 4).startswith("1 of 4 runs diverged (25%)")
    with pytest.raises(ValueError, match="^diverged"):
        checks.divergence_note(5, 4)


# -- all --------------------------------------------------------------------------------------------------
def test_all_refuses_options_it_does_not_pass_and_records_only_what_it_used(fake, capsys, tmp_path):
    assert main(["all", "--eta", "1e-3", "--out", str(tmp_path / "a")]) == 2
    _one_line(capsys, "--eta is per subcommand")
    out = tmp_path / "b"
    assert (
        main(["all", "--only", "fakecmd", "--quick", "--seed", "4", "--no-progress", "--out", str(out)]) == 0
    )
    doc = json.loads((out / "verdict.json").read_text())
    assert set(doc["parameters"]) == {"seed", "dist", "eigenvalues", "format", "quick", "subcommands"}
    assert doc["parameters"]["seed"] == 4 and doc["results"]["errors"] == {}
    (sub,) = fake.calls
    assert (sub.runs, sub.horizon, sub.seed) == (3, 0.25, 4)  # the subcommand's --quick budget, all's seed
    assert {"fakecmd/verdict.json", "fakecmd/a.png", "fakecmd/raw.nc"} <= set(doc["files"])


@pytest.mark.slow
def test_threads_do_not_change_a_real_runs_numbers(tmp_path, capsys):
    """A tiny tradeoff run (the Figure 1 grid kernel) with --threads 1 and 2: raw.nc bit-identical."""
    import numba
    import xarray as xr

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    tiny = ["--mus", "0.8,0.9", "--taus", "0:40:20", "--runs", "6", "--horizon", "0.5", "--no-progress"]
    before = numba.get_num_threads()
    try:
        for n in (1, 2):
            assert main(["tradeoff", *tiny, "--threads", str(n), "--out", str(tmp_path / f"t{n}")]) == 0
    finally:
        numba.set_num_threads(before)
    with (
        xr.open_dataset(tmp_path / "t1" / "raw.nc") as one,
        xr.open_dataset(tmp_path / "t2" / "raw.nc") as two,
    ):
        assert set(one.data_vars) == set(two.data_vars) and one.data_vars
        for k in one.data_vars:
            assert one[k].values.tobytes() == two[k].values.tobytes(), k


def test_all_checks_every_subcommands_resources_before_running_any(fake, toy, capsys, tmp_path):
    fake.behaviour = lambda args, out: pytest.fail("must not run")
    out = tmp_path / "all"
    argv = ["all", "--only", "fakecmd,toycmd", "--no-progress", "--out", str(out)]
    assert main([*argv, "--max-steps", "2999"]) == 2  # toycmd: 3 runs x 1000 chain-steps
    line = _one_line(capsys, "--max-steps: the subcommands of all need an estimated 3e+03 chain-steps")
    assert "use --quick or --only" in line
    assert main([*argv, "--max-memory", "1e-9"]) == 2  # toycmd: 24 B > 1.07 B
    assert _one_line(capsys, "--max-memory: this run needs an estimated 24 B").endswith(
        "(subcommand toycmd of all)"
    )
    assert fake.calls == [] and not out.exists()


def test_a_ladder_with_a_repeated_factor_is_refused():
    # one rung per factor: phase3's eta -> 0 fit died of a singular matrix on --ladder 1,1
    with pytest.raises(ValueError, match="^--ladder must have distinct factors"):
        cli.parse_ladder("1,0.5,1")
    assert cli.parse_ladder("1,0.5,0.25") == [1.0, 0.5, 0.25]
