"""Property tests of `log`: whatever text goes in, every line written parses back to it, and
invalid input appends nothing."""

import contextlib
import io
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoresearch_engine import cli, metrics, records

HEADER = {"type": "config", "name": "fuzz", "metricName": "score", "metricUnit": "", "bestDirection": "lower"}

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=12)
json_objects = st.dictionaries(st.text(), json_values, max_size=5)
# text as it can arrive in argv: any Unicode except lone surrogates and NUL
argv_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1)


def call(tmp, *args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([*args, "-C", str(tmp), "--no-pending"])
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def fresh_log(tmp_path):
    path = tmp_path / "autoresearch.jsonl"
    path.write_text(json.dumps(HEADER) + "\n", encoding="utf-8")
    return path


def read_lines(path):
    return path.read_bytes().decode("utf-8").split("\n")


@FUZZ
@given(description=argv_text, asi=json_objects,
       metric=st.floats(-records.MAX_MAGNITUDE, records.MAX_MAGNITUDE) | st.integers(-10**12, 10**12))
def test_any_description_and_asi_round_trip(tmp_path, description, asi, metric):
    path = fresh_log(tmp_path)
    code, _, err = call(tmp_path, "log", "--status", "discard", "--metric", repr(metric),
                        "--description", description, "--asi", json.dumps(asi), "--commit", "abc1234")
    if not description.strip() or description == "--":  # '--' as a value is refused: it names --description=--
        assert code == 2 and path.read_text(encoding="utf-8").count("\n") == 1
        return
    assert code == 0, err
    lines = read_lines(path)
    assert lines[-1] == "" and len(lines) == 3  # header, record, trailing newline: one line per record
    record = json.loads(lines[1])
    assert record["description"] == description
    assert record["asi"] == asi if asi else "asi" not in record
    assert record["metric"] == metric
    path.unlink()


bad_numbers = st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "", "abc", "1,5", "0x10", "1e999", "--1", "None"]) | st.text(
    alphabet="abcxyz!@ ", min_size=1)


@FUZZ
@given(metric=bad_numbers)
def test_invalid_metric_appends_nothing(tmp_path, metric):
    path = fresh_log(tmp_path)
    before = path.read_bytes()
    code, out, err = call(tmp_path, "log", "--status", "keep", "--metric", metric, "--description", "x")
    assert code == 2 and out == ""
    assert err.startswith("autoresearch: error:") and err.count("\n") == 1
    assert path.read_bytes() == before
    path.unlink()


invalid_objects = st.sampled_from(["[1,2]", "1", '"text"', "{", '{"a": NaN}', '{"a": Infinity}', "null", "{'a': 1}", "--"]) | st.text(min_size=1, max_size=12).filter(
    lambda t: not _is_json_object(t))  # an empty --asi means "no ASI", as in the seed


def _is_json_object(text):
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


@FUZZ
@given(asi=invalid_objects)
def test_invalid_asi_appends_nothing(tmp_path, asi):
    path = fresh_log(tmp_path)
    before = path.read_bytes()
    code, _, err = call(tmp_path, "log", "--status", "keep", "--metric", "1", "--description", "x", "--asi", asi)
    assert code == 2 and "--asi" in err
    assert path.read_bytes() == before
    path.unlink()


@FUZZ
@given(metrics_obj=st.dictionaries(st.text(max_size=8), st.floats() | st.text(max_size=3) | st.integers(), max_size=4))
def test_metrics_object_validated(tmp_path, metrics_obj):
    path = fresh_log(tmp_path)
    before = path.read_bytes()
    text = json.dumps(metrics_obj)  # may contain NaN/Infinity tokens: those must be refused
    code, _, err = call(tmp_path, "log", "--status", "keep", "--metric", "1", "--description", "x", "--metrics", text)
    valid = all(
        records.METRIC_NAME_RE.match(name) and records.is_finite_number(value)
        for name, value in metrics_obj.items()
    )
    if valid:
        assert code == 0, err
        assert json.loads(read_lines(path)[1])["metrics"] == metrics_obj
    else:
        assert code == 2 and path.read_bytes() == before
    path.unlink()


@FUZZ
@given(name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,10}", fullmatch=True),
       value=st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
       noise=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_metric_lines_parse(name, value, noise):
    text = f"{noise}\nMETRIC {name}={value!r}\n{noise.replace('METRIC', 'metric')}\n"
    parsed = metrics.parse(text)
    if records.is_finite_number(value):
        assert parsed.values[name] == value
    else:  # beyond ±MAX_MAGNITUDE: refused, with the reason
        assert name not in parsed.values and "out of range" in parsed.rejected[name][1]


def test_log_lines_survive_a_reader_that_splits_on_newlines(tmp_path):
    path = fresh_log(tmp_path)
    tricky = 'quote " backslash \\ newline \n tab \t unicode ✓ \u2028 separator'
    code, _, err = call(tmp_path, "log", "--status", "keep", "--metric", "1", "--description", tricky)
    assert code == 0, err
    raw = path.read_bytes()
    assert raw.count(b"\n") == 2
    assert json.loads(raw.split(b"\n")[1])["description"] == tricky
    assert os.path.getsize(path) == len(raw)
