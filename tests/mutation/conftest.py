"""tests/mutation holds the mutation runner (run_mutations.py), which runs the suite: never collected."""

collect_ignore = ["run_mutations.py"]
