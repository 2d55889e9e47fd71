"""`resume` gives a fresh agent each run's ASI without cutting the idea it suggests, and the measured noise."""

import json


def test_resume_keeps_the_whole_next_hint_and_shows_sigma(session):
    session.engine("run")
    long_next = "try caching the parsed fixtures on disk, keyed by the file hash, " * 6
    asi = {"hypothesis": "parsing dominates " * 30, "learnt": "parsing was 40% of the time", "next": long_next.strip()}
    session.engine("log", "--description", "baseline", "--asi", json.dumps(asi))
    text = session.engine("resume").stdout
    assert f"    next: {long_next.strip()}" in text.splitlines()
    assert "    learnt: parsing was 40% of the time" in text.splitlines()
    hypothesis = [line for line in text.splitlines() if line.startswith("    hypothesis: ")][0]
    assert len(hypothesis) < len("    hypothesis: " + asi["hypothesis"]) and hypothesis.endswith("…")
    sigma = session.status()["noise_sigma"]
    assert sigma is not None and f"noise sigma {sigma:.4g} pt (" in text
