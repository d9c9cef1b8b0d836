# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 - The paper's delay bounds, the exact stability threshold and the phase times
#
# Liu et al. (NeurIPS 2018) bound the delay Async-MSGD tolerates by
# tau <~ (1-mu)^2 / (lambda_1 eta^(1-gamma)) (Lemma 1, Theorem 3) and
# tau ~ (1-mu)^2 / ((lambda_1 + C_d) eta^(1/2-gamma)) (Lemma 4, Theorems 5 and 9), and read
# the "optimal delays" 120, 80, 60, 30, 10 of Figure 1 (mu = 0.7 .. 0.95, eta = 5e-4) as
# evidence. This notebook sets those bounds beside the **exact** linear-stability threshold of
# the delayed heavy-ball recursion (`theory.stability_threshold`, docs/stability.md), its
# binding mode, the mean-square threshold under random staleness
# (`theory.predicted_optimal_delay`, docs/stability.md section 6), a small simulation of
# Figure 1's rule (`compare.tradeoff`), and the phase times T1, T2, T3 (printed and derived,
# docs/errata.md sections 1-3).
#
# It runs top to bottom on a small budget; the last section has sliders (ipywidgets) for
# mu, eta, gamma, the eigenvalues, the data distribution and the delay model. Executed
# headless (the test suite), the sliders are inert and every cell still computes and asserts
# for the values of the parameter cell.

# %%
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from compare import engine, tradeoff
from theory import (
    Problem,
    asymptotic_threshold,
    delay_bounds,
    iteration_counts,
    phase_times,
    predicted_optimal_delay,
    random_delay_report,
    stability_threshold,
)

# %% [markdown]
# ## Parameters
#
# `QUICK = True` keeps the simulation small (seconds); `False` runs Figure 1's own budget
# (100 runs, every delay 0..160, T = 10: tens of seconds). The other values are the starting
# point of the sliders at the end; the checks of the paper's setting below do not depend on them.

# %%
QUICK = True
MU = 0.9
ETA = 5e-4
GAMMA = 0.5  # theory.GAMMA_DEFAULT: gamma of the paper's delay conditions, in (0, 1/2] for Lemma 4
EIGENVALUES = (4.0, 3.0, 2.0, 1.0)  # Sigma of Section 4.1
DIST = "rademacher"  # bounded data: C_d exists, so Lemma 4's bound is defined (Assumption 2)
DELAY_MODEL = "geometric"  # constant | uniform | geometric | pipeline (theory.RANDOM_DELAY_KINDS)
MEAN_DELAY = 30
SEED = 0
SIM = dict(runs=20, taus=tuple(range(0, 161, 4)), horizon=5.0) if QUICK else dict(
    runs=100, taus=tuple(range(161)), horizon=10.0
)

# %% [markdown]
# ## 1. The exact threshold at the paper's setting
#
# Linearising the mean of update (5) at e_1 gives one scalar delayed heavy-ball recursion per
# mode, x_{k+1} = (1 + mu) x_k - mu x_{k-1} - eta c x_{k-tau}, with c = 2 lambda_1 for the norm
# of the iterate (the *radial* mode) and c = lambda_1 - lambda_i for the tangent modes of eq. (8).
# The largest stable constant delay tau* comes from a boundary-crossing argument in O(1);
# here it is checked independently by the roots of the characteristic polynomial
# z^{tau+1} - (1+mu) z^tau + mu z^{tau-1} + eta c (numpy), stable at tau* and unstable at tau* + 1.

# %%
paper = Problem.paper(dist="rademacher")
PAPER_ETA = 5e-4
paper_mus = np.array(tradeoff.PAPER_MUS)
paper_delays = np.array([tradeoff.PAPER_OPTIMAL_DELAY[m] for m in tradeoff.PAPER_MUS])


def root_radius(mu, s, tau):
    """Largest |z| of z^{tau+1} - (1+mu) z^tau + mu z^{tau-1} + s (tau = 0: z^2 - (1+mu-s) z + mu)."""
    if tau == 0:
        coeffs = [1.0, -(1.0 + mu - s), mu]
    else:
        coeffs = np.zeros(tau + 2)
        coeffs[:3] = [1.0, -(1.0 + mu), mu]
        coeffs[-1] += s
    return np.abs(np.roots(coeffs)).max()


rows = []
for mu, reported in zip(paper_mus, paper_delays, strict=True):
    st = stability_threshold(paper, mu, PAPER_ETA)
    s = PAPER_ETA * st.modes["radial"]["c"]
    rows.append(
        (mu, reported, st.max_stable_delay, st.critical_delay, st.binding_mode, st.asymptotic,
         root_radius(mu, s, st.max_stable_delay), root_radius(mu, s, st.max_stable_delay + 1))
    )
print(" mu   paper  tau*  tau_c    binds   pi(1-mu)/(4 l1 eta)  |z|max at tau*, tau*+1")
for mu, reported, t_star, t_c, mode, asym, r0, r1 in rows:
    print(f"{mu:4.2f}  {reported:5d}  {t_star:4d}  {t_c:6.2f}  {mode:7s}  {asym:8.2f}"
          f"             {r0:.6f}, {r1:.6f}")
thresholds = np.array([r[2] for r in rows])

# %%
# docs/stability.md section 4 and docs/figure1.md: 115, 74, 53, 32, 13, the radial mode binding
assert thresholds.tolist() == [115, 74, 53, 32, 13], thresholds
assert all(r[4] == "radial" for r in rows)
# the independent root check: every root inside the unit circle at tau*, one outside at tau* + 1
assert all(r[6] < 1 < r[7] for r in rows)
# within about a quarter of every reported optimal delay, with no fitted constant
assert np.all(np.abs(thresholds - paper_delays) / paper_delays < 0.35)

# %% [markdown]
# ## 2. Which power of (1 - mu)?
#
# Every delay condition of the paper carries (1 - mu)^2. Fit log tau = a + p log(1 - mu) to
# the paper's five numbers and to the exact thresholds; the leading order of the threshold,
# pi (1 - mu) / (4 lambda_1 eta), says p = 1 (the effective slope at finite eta is a bit
# above 1, from the -(1 + mu)/(2 (1 - mu)) correction).

# %%
x = np.log(1 - paper_mus)
(p_paper, _), cov_paper = np.polyfit(x, np.log(paper_delays), 1, cov=True)
p_exact, _ = np.polyfit(x, np.log(thresholds), 1)
se_paper = math.sqrt(cov_paper[0, 0])
print(f"exponent of (1 - mu): paper's delays {p_paper:.2f} +- {se_paper:.2f}, exact threshold {p_exact:.2f}")
assert abs(p_paper - 1) < abs(p_paper - 2), "the paper's own delays sit closer to (1-mu)^1 than to (1-mu)^2"
assert 1 < p_exact < 1.5

# %% [markdown]
# ## 3. A small run of Figure 1's rule
#
# `compare.tradeoff` runs eq. (5) from the saddle e_2 over the grid mu x tau and reads the
# optimal delay as the largest tau whose mean error stays within 1.5x the error at tau = 0
# (docs/figure1.md). Here through the engine's Python API, in memory (no store), on the budget
# of the parameter cell.

# %%
spec = tradeoff.TradeoffSpec(seed=SEED, **SIM)
verdict, summary = engine.run(tradeoff.COMPARISON, spec, options=engine.RunnerOptions(progress=False))
simulated = np.array([verdict.results["optimal_delay"][str(m)] for m in tradeoff.PAPER_MUS], dtype=float)
print(summary)
print("simulated optimal delays:", simulated.astype(int).tolist())
# Figure 1's knee sits a few steps past the threshold of the norm (a Hopf bifurcation,
# docs/figure1.md section 3): the verdict's optimal_vs_stability checks hold
held = {c.name: c.holds for c in verdict.checks}
assert all(held[f"optimal_vs_stability[mu={m}]"] for m in tradeoff.PAPER_MUS), held

# %% [markdown]
# ## 4. Phase times and iteration counts, printed and derived
#
# Propositions 10, 8, 6 give the times of the three phases (ODE time t = k eta). The derived
# T2 is twice the printed one (docs/errata.md section 1); the printed T3 lacks a factor 4 inside
# the log and its noise floor uses phi instead of phi_eff, and with the paper's own scalings
# (delta = sqrt(eta), epsilon = 4 eta phi / ((1-mu) g)) it is negative: Phase III as stated is
# vacuous (errata section 2). N_k = T_k / (tau eta) are the effective iteration counts.

# %%
times = phase_times(paper, 0.9, PAPER_ETA)
counts = iteration_counts(paper, 0.9, PAPER_ETA, gamma=GAMMA)
for k in ("T1", "T2", "T3"):
    print(f"{k}: paper {times[k]['paper']:+.4f}   derived {times[k]['derived']:+.4f}")
for k, v in counts.items():
    print(f"{k:7s}: paper {v['paper']:+12.4g}   derived {v['derived']:+12.4g}")
assert math.isclose(times["T2"]["derived"], 2 * times["T2"]["paper"], rel_tol=1e-12)  # errata 1
assert math.isclose(times["T1"]["derived"], times["T1"]["paper"], rel_tol=1e-12)  # errata: agreements
assert times["T3"]["paper"] < 0  # errata 2 (c): vacuous at the paper's scalings


# %% [markdown]
# ## 5. Explore
#
# `explore` computes, for one choice of parameters: the exact threshold and its binding mode,
# the paper's bounds with constant 1, the mean-square threshold and predicted optimal (mean)
# delay of a random delay model, the phase times and the effective iteration counts; `show`
# plots the allowed delay against mu (with M asynchronous workers in round robin the delay is
# tau = M - 1, so the allowed number of workers is tau + 1) and T1 + T2 + T3 against mu.

# %%
def explore(mu, eta, gamma, eigenvalues, dist, delay_model, mean_delay, n_mu=25):
    """Everything this notebook plots, for one choice of parameters (ValueError on bad input)."""
    problem = Problem(list(eigenvalues), dist=dist)
    st = stability_threshold(problem, mu, eta)
    mus = np.linspace(0.5, 0.97, n_mu)
    curve = {"mu": mus}
    curve["exact"] = np.array([stability_threshold(problem, m, eta).max_stable_delay for m in mus])
    c_radial = st.modes["radial"]["c"]
    curve["asymptotic"] = asymptotic_threshold(mus, eta, c_radial)
    bounds = [delay_bounds(problem, m, eta, gamma=gamma) for m in mus]
    curve["theorem3"] = np.array([b["ode_regime"]["theorem3"] for b in bounds])
    curve["lemma4"] = np.array([b["sde_regime"]["lemma4"] for b in bounds])
    curve["predicted_" + delay_model] = np.array(
        [predicted_optimal_delay(problem, m, eta, delay_model).delay for m in mus]
    )
    phases = [phase_times(problem, m, eta) for m in mus]
    for k in ("T1", "T2", "T3"):
        for which in ("paper", "derived"):
            curve[f"{k}_{which}"] = np.array([p[k][which] for p in phases])
    return {
        "problem": problem,
        "stability": st,
        "bounds": delay_bounds(problem, mu, eta, gamma=gamma),
        "random": random_delay_report(problem, mu, eta, delay_model, mean_delay),
        "predicted": predicted_optimal_delay(problem, mu, eta, delay_model),
        "phases": phase_times(problem, mu, eta),
        "counts": iteration_counts(problem, mu, eta, gamma=gamma),
        "curve": curve,
        "params": dict(mu=mu, eta=eta, gamma=gamma, delay_model=delay_model, mean_delay=mean_delay),
    }


def show(r, simulated=None):
    """Two panels: allowed delay vs mu, and the phase times vs mu; returns the figure."""
    c, p = r["curve"], r["params"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    ax.semilogy(c["mu"], c["exact"], "k-", label="exact threshold (constant delay)")
    ax.semilogy(c["mu"], c["asymptotic"], "k:", label=r"$\pi(1-\mu)/(4\lambda_1\eta)$")
    ax.semilogy(c["mu"], c["predicted_" + p["delay_model"]], "C2-",
                label=f"predicted optimal mean delay, {p['delay_model']}")
    ax.semilogy(c["mu"], c["theorem3"], "C0--", label=rf"Theorem 3 bound, C = 1, $\gamma$ = {p['gamma']:g}")
    if np.isfinite(c["lemma4"]).any():
        ax.semilogy(c["mu"], c["lemma4"], "C1--", label="Lemma 4 bound, C = 1")
    if simulated is not None:
        ax.semilogy(*simulated, "ko", mfc="none", label="simulated optimal delay (sec. 3)")
        ax.semilogy(paper_mus, paper_delays, "rx", label="paper, Figure 1")
    ax.axvline(p["mu"], color="0.7", lw=0.8)
    ax.set_xlabel(r"momentum $\mu$")
    ax.set_ylabel(r"delay $\tau$  (allowed workers $M = \tau + 1$)")
    ax.set_title(rf"$\eta$ = {p['eta']:g}, $\lambda$ = {tuple(r['problem'].lambda_.tolist())}", fontsize=9)
    ax.legend(fontsize=7)
    for which, style in (("paper", "--"), ("derived", "-")):
        for k, color in (("T1", "C0"), ("T2", "C1"), ("T3", "C2")):
            bx.plot(c["mu"], c[f"{k}_{which}"], style, color=color, label=f"{k} {which}")
        total = c[f"T1_{which}"] + c[f"T2_{which}"] + np.maximum(np.nan_to_num(c[f"T3_{which}"]), 0)
        bx.plot(c["mu"], total, style, color="k", label=f"T1 + T2 + max(T3, 0), {which}")
    bx.axhline(0, color="0.5", lw=0.8)
    bx.set_xlabel(r"momentum $\mu$")
    bx.set_ylabel("ODE time t = k eta")
    bx.set_title(r"phase times ($\delta = \sqrt{\eta}$; T3 < 0: Phase III vacuous)", fontsize=9)
    bx.legend(fontsize=6, ncol=2)
    return fig


def summary_line(r):
    st, pred, rnd = r["stability"], r["predicted"], r["random"]
    return (f"exact tau* = {st.max_stable_delay} ({st.binding_mode}); "
            f"Theorem 3 bound {r['bounds']['ode_regime']['theorem3']:.3g}, "
            f"Lemma 4 bound {r['bounds']['sde_regime']['lemma4']:.3g}; "
            f"{rnd['kind']} delays, mean {rnd['mean']}: mean-square stable "
            f"{rnd['modes'][rnd['binding_mode']]['mean_square_stable']} "
            f"(threshold {rnd['mean_square_delay']}, {rnd['binding_mode']}); "
            f"predicted optimal mean delay {pred.delay} ({pred.binding_mode})\n"
            + "; ".join(f"{k} = {v['paper']:.3g} printed, {v['derived']:.3g} derived"
                        for k, v in r["counts"].items()))


# %%
result = explore(MU, ETA, GAMMA, EIGENVALUES, DIST, DELAY_MODEL, MEAN_DELAY)
print(summary_line(result))
fig = show(result, simulated=(paper_mus, simulated) if (ETA, EIGENVALUES) == (PAPER_ETA, (4.0, 3.0, 2.0, 1.0))
           else None)
plt.show()

# %%
# invariants that hold for any parameters (docs/stability.md section 2): the radial mode binds;
# the threshold is non-increasing in mu where eta c <= 1; for a constant delay the mean-square
# threshold is the deterministic one; the printed T2 is half the derived one
st = result["stability"]
assert st.binding_mode == "radial"
assert np.all(np.diff(result["curve"]["exact"]) <= 0)
s_radial, t_star = ETA * st.modes["radial"]["c"], st.max_stable_delay
if t_star < 400:
    assert root_radius(MU, s_radial, t_star) < 1 < root_radius(MU, s_radial, t_star + 1)
assert random_delay_report(result["problem"], MU, ETA, "constant", 0)["mean_square_delay"] == t_star
np.testing.assert_allclose(result["curve"]["T2_derived"], 2 * result["curve"]["T2_paper"], rtol=1e-12)
# at the defaults, random staleness of the same mean is tolerated better than a constant delay
# (docs/figure1.md section 5): the predicted optimal mean delay exceeds the exact threshold
if DELAY_MODEL in ("geometric", "pipeline"):
    assert result["predicted"].delay > st.max_stable_delay

# %% [markdown]
# ### Sliders
#
# Needs `ipywidgets` (`pip install -e '.[notebooks]'`) and a live kernel. Each change
# recomputes `explore` (a second or two; the uniform law's exact test is O(m^2)).

# %%
try:
    import ipywidgets as widgets
except ImportError:  # degrade: the figure above is the default view
    widgets = None
    print("ipywidgets is not installed: pip install -e '.[notebooks]' for the sliders")

if widgets is not None:
    from IPython.display import clear_output

    controls = {
        "mu": widgets.FloatSlider(value=MU, min=0.0, max=0.98, step=0.01, description="mu",
                                  continuous_update=False),
        "log10_eta": widgets.FloatSlider(value=math.log10(ETA), min=-5, max=-2, step=0.1,
                                         description="log10 eta", continuous_update=False),
        "gamma": widgets.FloatSlider(value=GAMMA, min=0.05, max=1.0, step=0.05, description="gamma",
                                     continuous_update=False),
        "eigenvalues": widgets.Text(value=",".join(f"{v:g}" for v in EIGENVALUES), description="lambda",
                                    continuous_update=False),
        "dist": widgets.Dropdown(options=["rademacher", "gaussian"], value=DIST, description="data"),
        "delay_model": widgets.Dropdown(options=["constant", "uniform", "geometric", "pipeline"],
                                        value=DELAY_MODEL, description="delays"),
        "mean_delay": widgets.IntSlider(value=MEAN_DELAY, min=0, max=200, description="mean delay",
                                        continuous_update=False),
    }
    out = widgets.Output()
    with out:
        print(summary_line(result))
        display(fig)

    def on_change(_change):
        v = {k: c.value for k, c in controls.items()}
        with out:
            clear_output(wait=True)
            try:
                eig = tuple(float(t) for t in v["eigenvalues"].split(","))
                r = explore(v["mu"], 10 ** v["log10_eta"], v["gamma"], eig, v["dist"],
                            v["delay_model"], v["mean_delay"])
            except ValueError as exc:  # bad input: the message names the parameter
                print("error:", exc)
                return
            print(summary_line(r))
            show(r)
            plt.show()

    for control in controls.values():
        control.observe(on_change, names="value")
    display(widgets.VBox([widgets.HBox(list(controls.values())[:4]),
                          widgets.HBox(list(controls.values())[4:]), out]))
