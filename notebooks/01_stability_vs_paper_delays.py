# ---
# jupyter:
#   jupytext:
#     text_representation:
#       format_name: percent
# ---

# %% [markdown]
# # Where do the paper's "optimal delays" come from?
#
# Section 4.1 of the paper reports optimal delays 120, 80, 60, 30, 10 for
# mu = 0.7, 0.8, 0.85, 0.9, 0.95 (Sigma = diag(4,3,2,1), eta = 5e-4) and reads them as
# evidence for its delay bounds tau ~ (1-mu)^2 / eta^(1-gamma) (Theorem 3) and
# tau ~ (1-mu)^2 / ((lambda_1 + C_d) eta^(1/2-gamma)) (Lemma 4).
#
# This notebook sets those numbers beside the *exact* linear-stability threshold of the
# delayed heavy-ball recursion (`theory.stability`) and fits the exponent of (1 - mu).
# It is a percent-format script (open it in Jupyter with jupytext, or run it with python);
# the test suite executes it.

# %%
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from theory import Problem
from theory.delays import delay_bounds
from theory.stability import stability_threshold

OUT = Path(os.environ.get("NOTEBOOK_OUT", "notebooks/out"))
OUT.mkdir(parents=True, exist_ok=True)

problem = Problem.paper(dist="rademacher")  # bounded data, so C_d exists (Assumption 2)
eta = 5e-4
mus = np.array([0.7, 0.8, 0.85, 0.9, 0.95])
paper_optimal = np.array([120, 80, 60, 30, 10])  # Section 4.1 / Figure 1

# %%
rows = []
for mu, paper in zip(mus, paper_optimal, strict=True):
    st = stability_threshold(problem, mu, eta)
    b = delay_bounds(problem, mu, eta, gamma=0.5)
    rows.append((mu, paper, st.max_stable_delay, st.binding_mode, st.asymptotic, b))
    print(
        f"mu={mu:4.2f}  paper={paper:4d}  exact threshold={st.max_stable_delay:4d} ({st.binding_mode})"
        f"  asymptotic={st.asymptotic:7.2f}"
    )
thresholds = np.array([r[2] for r in rows], dtype=float)

# The exact threshold is within about a quarter of every reported optimal delay.
assert np.all(np.abs(thresholds - paper_optimal) / paper_optimal < 0.35)

# %% [markdown]
# ## Which power of (1 - mu)?
#
# Fit log(tau) = a + p log(1 - mu) to the paper's reported delays and to the exact
# thresholds. The paper's bounds say p = 2; the leading-order law of the stability
# threshold, pi (1 - mu) / (4 lambda_1 eta), says p = 1.

# %%
x = np.log(1 - mus)
p_paper, _ = np.polyfit(x, np.log(paper_optimal), 1)
p_exact, _ = np.polyfit(x, np.log(thresholds), 1)
print(f"fitted exponent of (1-mu): paper's delays {p_paper:.2f}, exact threshold {p_exact:.2f}")
assert abs(p_paper - 1) < abs(p_paper - 2), "the paper's own delays sit closer to (1-mu)^1"

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
grid = np.linspace(0.6, 0.97, 60)
ax.loglog(1 - grid, [stability_threshold(problem, m, eta).max_stable_delay for m in grid],
          label="exact stability threshold")
ax.loglog(1 - mus, paper_optimal, "o", label="paper's optimal delays")
ax.loglog(1 - grid, np.pi * (1 - grid) / (4 * problem.lambda_[0] * eta), "--",
          label=r"$\pi(1-\mu)/(4\lambda_1\eta)$")
ax.set_xlabel(r"$1-\mu$")
ax.set_ylabel(r"delay $\tau$")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "stability_vs_paper.png", dpi=100)
print("figure:", OUT / "stability_vs_paper.png")
