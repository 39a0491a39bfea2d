"""Prometheus's query answers parsed: vectors, scalars, errors, garbage and hostile series."""

import math
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyterhub_onboarding.core.promapi import (
    MAX_LABEL_CHARS,
    MAX_SERIES,
    ErrorAnswer,
    InvalidAnswer,
    parse_query_answer,
)
from jupyterhub_onboarding.core.sources import clean_detail

UTC = timezone.utc
AT = 1793000000.5


def vector(*entries):
    return {"status": "success", "data": {"resultType": "vector", "result": list(entries)}}


def series(value="1", **labels):
    return {"metric": labels, "value": [AT, value]}


def test_a_vector():
    result = parse_query_answer(vector(series("42", directory="ada"), series("NaN", directory="b")))
    assert [(s.labels, s.value) for s in result.samples[:1]] == [({"directory": "ada"}, 42.0)]
    assert math.isnan(result.samples[1].value)
    assert result.samples[0].at == datetime.fromtimestamp(AT, UTC)
    assert result.rejected == 0


def test_a_scalar_is_one_sample_without_labels():
    body = {"status": "success", "data": {"resultType": "scalar", "result": [AT, "3.5"]}}
    (sample,) = parse_query_answer(body).samples
    assert (sample.labels, sample.value) == ({}, 3.5)


def test_an_empty_vector_is_no_samples():
    assert parse_query_answer(vector()).samples == ()


def test_the_error_answer_is_its_own_error_with_a_bounded_message():
    body = {"status": "error", "errorType": "bad_data", "error": "parse error\n" + "x" * 500}
    with pytest.raises(ErrorAnswer) as raised:
        parse_query_answer(body)
    assert raised.value.error_type == "bad_data"
    assert "\n" not in str(raised.value) and len(raised.value.detail) <= 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html>", "expected a JSON object"),
        ({"status": "ok"}, "unexpected status"),
        ({"status": "success"}, "no data object"),
        ({"status": "success", "data": {"resultType": "matrix", "result": []}}, "instant vector"),
        ({"status": "success", "data": {"resultType": "vector", "result": {}}}, "not a list"),
        ({"status": "success", "data": {"resultType": "scalar", "result": [1]}}, "scalar"),
    ],
)
def test_garbage_is_an_invalid_answer(body, message):
    with pytest.raises(InvalidAnswer, match=message):
        parse_query_answer(body)


def test_too_many_series_are_refused_as_a_whole():
    with pytest.raises(InvalidAnswer, match="more than"):
        parse_query_answer(vector(*[series()] * (MAX_SERIES + 1)))


def test_hostile_series_are_left_out_and_counted():
    result = parse_query_answer(
        vector(
            series("7", directory='a"b\\c\n<script>'),
            series("1", directory="x" * (MAX_LABEL_CHARS + 1)),
            series(12, directory="number-not-string"),
            series("seven", directory="words"),
            {"metric": {"directory": 5}, "value": [AT, "1"]},
            {"metric": {}, "value": [math.inf, "1"]},
            {"metric": {}, "value": [AT]},
            "not an object",
        )
    )
    assert [s.labels["directory"] for s in result.samples] == ['a"b\\c\n<script>']
    assert result.rejected == 7


def test_warnings_are_kept_bounded():
    body = vector(series())
    body["warnings"] = ["too slow\x1b[31m", 5]
    assert parse_query_answer(body).warnings == ("too slow [31m",)


#: Any JSON value, with the keys of a query answer more likely than chance would give.
json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.text(max_size=5) | st.sampled_from(["NaN", "1"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["status", "data", "resultType", "result", "metric", "value", "x"]),
            inner | st.sampled_from(["success", "vector", "scalar", "error"]),
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(json_values)
def test_any_json_parses_into_typed_samples_or_is_refused_clearly(body):
    try:
        result = parse_query_answer(body)
    except (InvalidAnswer, ErrorAnswer) as error:
        assert str(error)
        return
    for sample in result.samples:
        assert isinstance(sample.value, float)
        assert all(isinstance(value, str) for value in sample.labels.values())
        assert sample.at.tzinfo is not None


def test_clean_detail_keeps_one_short_line():
    assert clean_detail("a\nb\u202ec\x00d") == "a b c d"
    assert clean_detail("x" * 300).endswith("…") and len(clean_detail("x" * 300)) == 200
