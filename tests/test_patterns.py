"""Regular expressions in expressions: compiled once, bounded in time and size."""

from __future__ import annotations

import time

import pytest

from contextbridge import ConfigError, TransformError, compile_expression
from contextbridge.language.expressions.patterns import REGEX_TIMEOUT

FACILITY = {"ref": "24276[Turmcenter]", "odd": "Parkhaus Zeil", "n": 7}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("re_search('^[0-9]+', ref)", "24276"),
        ("re_search('\\\\[(.+)\\\\]$', ref, 1)", "Turmcenter"),
        ("re_search('(?P<number>[0-9]+)', ref, 'number')", "24276"),
        ("re_search('^[0-9]+', odd)", None),  # no match: None, so coalesce() can take over
        ("coalesce(re_search('^[0-9]+', odd), odd)", "Parkhaus Zeil"),
        (
            "'urn:ngsi-ld:OffStreetParking:frankfurt:' + re_search('^\\\\d+', ref)",
            "urn:ngsi-ld:OffStreetParking:frankfurt:24276",
        ),
        ("re_sub('\\\\[.*\\\\]', '', ref)", "24276"),
        ("re_sub('([0-9]+)\\\\[(.+)\\\\]', '\\\\2-\\\\1', ref)", "Turmcenter-24276"),
        ("re_sub('(?i)[^a-z0-9]+', '-', odd)", "Parkhaus-Zeil"),
        ("join(split(ref, '['), '/')", "24276/Turmcenter]"),
        ("replace(ref, '[', ':')", "24276:Turmcenter]"),
    ],
)
def test_patterns_search_and_substitute(source: str, expected: object) -> None:
    assert compile_expression(source)(FACILITY) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("re_search(pattern, ref)", "the pattern must be a string literal"),
        ("re_search('(', ref)", "invalid regular expression '('"),
        ("re_search('x')", "re_search() takes 2 to 3 arguments (1 given)"),
        ("re_sub('x', ref)", "re_sub() takes 3 arguments (2 given)"),
    ],
)
def test_a_pattern_is_checked_when_the_mapping_loads(source: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_expression(source)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("re_search('x', n)", "re_search(): needs a string, not int"),
        ("re_search('x', nothing)", "missing field"),
        ("re_search('([0-9]+)', ref, 2)", "re_search(): no group 2"),
        ("re_sub('x', n, ref)", "re_sub(): needs a string replacement, not int"),
        ("re_sub('([0-9]+)', '\\\\5', ref)", "re_sub(): bad replacement"),
    ],
)
def test_bad_arguments_reject_the_record(source: str, reason: str) -> None:
    with pytest.raises(TransformError) as caught:
        compile_expression(source)(FACILITY)
    assert reason in caught.value.reason


def test_a_catastrophic_pattern_is_stopped_by_its_timeout() -> None:
    # (a|aa)+$ on "aaa...!" tries every way of splitting the a's: 2**40 paths with Python's re.
    expression = compile_expression("re_search('(a|aa)+$', text)")
    started = time.perf_counter()
    with pytest.raises(TransformError) as caught:
        expression({"text": "a" * 40 + "!"})
    assert time.perf_counter() - started < REGEX_TIMEOUT + 2  # bounded (generously, on a loaded machine)
    assert caught.value.reason.startswith(f"re_search(): the pattern '(a|aa)+$' ran past {REGEX_TIMEOUT} s")
    assert expression({"text": "aaaa"}) == "aaaa"  # the same pattern on a sane text is fine


def test_a_substitution_cannot_blow_up_the_text() -> None:
    expression = compile_expression("re_sub('', 'xxxxxxxxxxxxxxxxxxxx', text)")
    with pytest.raises(TransformError, match="re_sub"):  # too long, or too slow: refused either way
        expression({"text": "a" * 60_000})
    assert expression({"text": "ab"}) == "x" * 20 + "a" + "x" * 20 + "b" + "x" * 20
