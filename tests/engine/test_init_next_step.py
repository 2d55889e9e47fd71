"""`init` ends with the next step that is actually left: write the benchmark, commit it, or run the baseline."""

INIT = ("--metric-name", "score", "--unit", "pt", "--direction", "lower")


def next_step(project, *extra):
    out = project.engine("init", "--name", "make score small", *INIT, *extra).stdout
    return out.split("Next: ", 1)[1].strip()


def test_a_committed_harness_goes_straight_to_the_baseline(project):
    assert next_step(project) == "'autoresearch run' for the baseline."


def test_an_uncommitted_harness_is_named_before_the_baseline(project):
    project.write("autoresearch.sh", project.read("autoresearch.sh") + "# edited\n")
    project.write("autoresearch.checks.sh", "exit 0\n")
    assert next_step(project) == "commit autoresearch.checks.sh and autoresearch.sh, then 'autoresearch run' for the baseline."


def test_no_benchmark_asks_for_one(project):
    project.git("rm", "-q", "autoresearch.sh")
    project.commit("no harness")
    assert next_step(project).startswith("write autoresearch.sh (or give the command after --")
