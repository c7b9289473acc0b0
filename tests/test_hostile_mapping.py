"""Hostile mappings, expressions, templates and records: every case ends in a typed error (ConfigError
at load, RecordError per record) within bounded time and memory; nothing is fetched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fuzz import FUZZ, bounded, recording_server
from hypothesis import given
from hypothesis import strategies as st

from contextbridge import ConfigError, MappingError, RecordError, Translator, compile_expression, load_mapping
from contextbridge.language.documents import MAX_DEPTH, MAX_NODES
from contextbridge.language.fieldpaths import MISSING
from contextbridge.language.templates import compile_template

MAPPINGS = sorted((Path(__file__).parent.parent / "mappings").glob("*.yaml"))

MINIMAL = """\
id: hostile
source: {format: json}
entities:
  - id: "urn:ngsi-ld:Device:hostile:{id}"
    type: Device
    attributes:
      batteryLevel: {expr: %s}
"""


def mapping_with_expression(expression: str) -> Any:
    return load_mapping("hostile.yaml", text=MINIMAL % expression)


# --- YAML --------------------------------------------------------------------------------------------


def billion_laughs(levels: int) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        alias = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([alias] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(billion_laughs(9), id="billion-laughs"),
        pytest.param("[" * 50_000 + "]" * 50_000, id="deep-flow"),
        pytest.param("a: " + "{b: " * 50_000 + "1" + "}" * 50_000, id="deep-flow-map"),
        pytest.param("- " * 50_000 + "1", id="deep-block-sequence"),
        pytest.param("".join("  " * level + "a:\n" for level in range(300)), id="deep-block"),
        pytest.param("a: !!python/object/apply:os.system ['touch /tmp/pwned']\n", id="python-tag"),
        pytest.param("a: !!python/name:os.system\n", id="python-name"),
        pytest.param("? [a, b]\n: 1\n", id="complex-key"),
        pytest.param("a: *undefined\n", id="undefined-alias"),
        pytest.param("id: x\n" * 2 + "\x00\x01", id="control-chars"),
        pytest.param("%YAML 9.9\n--- a\n", id="bad-directive"),
        pytest.param("a: 1\n---\nb: 2\n", id="two-documents"),
    ],
)
def test_hostile_yaml_is_a_mapping_error(text: str) -> None:
    with bounded(seconds=5, megabytes=128), pytest.raises(MappingError) as raised:
        load_mapping("hostile.yaml", text=text)
    assert str(raised.value)


def test_limits_are_what_the_documentation_says() -> None:
    assert MAX_NODES == 100_000 and MAX_DEPTH == 64


@FUZZ
@given(text=st.text(alphabet="{}[]:,-&*!?|>'\"#%@` \nabc01", max_size=400))
def test_any_yaml_text_loads_or_is_a_mapping_error(text: str) -> None:
    with bounded(seconds=5, megabytes=64):
        try:
            load_mapping("fuzz.yaml", text=text)
        except MappingError as error:
            assert error.problems


# --- expressions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "().__class__.__bases__[0].__subclasses__()",
        "record.__class__",
        "__import__('os').system('id')",
        "eval('1')",
        "exec('x=1')",
        "open('/etc/passwd')",
        "getattr(record, 'keys')",
        "[x for x in range(10**9)]",
        "(lambda: 1)()",
        "(x := 1)",
        "f'{value!r}'",
        "f'{value:>1000000000}'",
        "'{0.__class__}'.format(value)",
        "9 ** 9 ** 9",
        "10 ** 400",
        "'a' * 10 ** 9",
        "[1] * 10 ** 9",
        "1 / 0",
        "(" * 5_000 + ")" * 5_000,
        "-" * 9_000 + "1",
        "not " * 2_000 + "1",
        "a." * 4_000 + "b",
        "1 if " * 1_000 + "1" + " else 0" * 1_000,
        "x" * 20_000,
        "value[" * 3_000 + "0" + "]" * 3_000,
    ],
)
def test_hostile_expressions_are_refused_at_compile_time(source: str) -> None:
    with bounded(seconds=2, megabytes=64), pytest.raises(ConfigError):
        compile_expression(source)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("value ** value", 10**6),
        ("value ** 999", 10),
        ("value * 'a'", 10**9),
        ("[value] * value", 10**7),
        ("value + value", "a" * 900_000),
        ("value % 0", 1),
        ("value // 0", 1),
        ("int(value)", "1" * 100_000),
        ("float(value)", "nan"),
        ("float(value)", "1e999"),
        ("lower(value)", None),
        ("'%s' % value", "x"),
        ("value - 'a'", 1),
        ("value < 'a'", 1),
    ],
)
def test_hostile_values_are_transform_errors_at_run_time(source: str, value: Any) -> None:
    expression = compile_expression(source)
    with bounded(seconds=2, megabytes=64), pytest.raises(RecordError):
        expression({}, value)


@FUZZ
@given(source=st.text(alphabet="abvalue()[]{}'\"*+-/%<>=!.,:_ 0123456789fijnotrsx", max_size=80))
def test_any_expression_text_compiles_or_is_a_config_error(source: str) -> None:
    with bounded(seconds=2, megabytes=64):
        try:
            compile_expression(source)
        except ConfigError as error:
            assert str(error)


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
)
EXPRESSIONS = [
    "value * 2 + 1",
    "value ** 3",
    "round(float(value), 2)",
    "int(value) // 7",
    "lower(value) + upper(value)",
    "f'{value}-{a}'",
    "value[0] if value else a['b']",
    "coalesce(value, a, 0) / 3",
    "value in a",
    "value % 7",
    "str(value) * 3",
    "len(value)",
    "abs(value) < 10",
]


@pytest.mark.parametrize("source", EXPRESSIONS)
@FUZZ
@given(record=st.dictionaries(st.sampled_from(["a", "b", "value"]), values, max_size=3), value=values)
def test_expressions_on_any_values_answer_or_raise_transform_errors(
    source: str, record: Any, value: Any
) -> None:
    expression = compile_expression(source)  # each of EXPRESSIONS is in the language
    with bounded(seconds=2, megabytes=64):
        try:
            expression(record, value)
        except RecordError as error:
            assert str(error)


# --- templates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "urn:x:{a",
        "urn:x:}",
        "urn:x:{a|format}",
        "urn:x:{a|__class__}",
        "urn:x:{" + "a." * 5_000 + "}",
        "urn:x:{a[" + "9" * 5_000 + "}",
    ],
)
def test_malformed_templates_are_config_errors(source: str) -> None:
    with bounded(seconds=2, megabytes=32), pytest.raises(ConfigError):
        compile_template(source, uri=True)


_URI_OUTPUT = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:%")


@FUZZ
@given(value=scalars | st.text(alphabet=st.characters(), max_size=60))
def test_record_values_cannot_break_out_of_an_id_template(value: Any) -> None:
    render = compile_template("urn:ngsi-ld:Device:{id}:{id|slug}", uri=True)
    with bounded(seconds=1, megabytes=16):
        try:
            rendered = render({"id": value})
        except RecordError:  # a lone surrogate: no URI can hold it
            assert isinstance(value, str) and any("\ud800" <= char <= "\udfff" for char in value)
            return
    if rendered is not MISSING:
        tail = rendered.removeprefix("urn:ngsi-ld:Device:")
        assert set(tail) <= _URI_OUTPUT, rendered  # no {, }, /, ?, #, spaces, quotes, controls


def test_a_lone_surrogate_in_an_id_is_a_transform_error() -> None:
    render = compile_template("urn:ngsi-ld:Device:{id}", uri=True)
    with pytest.raises(RecordError) as raised:
        render({"id": "a\ud800"})
    assert raised.value.field == "id"


def test_template_injection_in_a_record_is_only_text() -> None:
    render = compile_template("urn:ngsi-ld:Device:{id}", uri=True)
    for attack in ("{__class__}", "{id}", "${7*7}", "{{7*7}}", "%(id)s", "{0.__globals__}"):
        assert "{" not in render({"id": attack}) and "}" not in render({"id": attack})


@FUZZ
@given(source=st.text(alphabet="{}|abc.[]0:-_ /", max_size=50))
def test_any_template_text_compiles_or_is_a_config_error(source: str) -> None:
    try:
        compile_template(source, uri=True)
    except ConfigError as error:
        assert str(error)


# --- the translator ------------------------------------------------------------------------------


def test_a_hostile_expression_in_a_mapping_is_a_mapping_error() -> None:
    for expression in ('"().__class__"', '"9 ** 9 ** 9"', "\"open('/etc/passwd')\""):
        with pytest.raises(MappingError):
            mapping_with_expression(expression)


def test_non_finite_results_reject_the_record() -> None:
    translator = Translator(mapping_with_expression('"float(v) * 10"'))
    outcomes = list(translator.translate([{"id": "1", "v": "1e308"}, {"id": "2", "v": "0.5"}]))
    assert isinstance(outcomes[0], RecordError) and outcomes[1]["batteryLevel"]["value"] == 5.0


field_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=40),
    st.lists(st.integers() | st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)


@pytest.mark.parametrize("path", MAPPINGS, ids=lambda path: path.stem)
@FUZZ
@given(data=st.data())
def test_shipped_mappings_turn_any_record_into_entities_or_record_errors(path: Path, data: Any) -> None:
    mapping = _load(path)
    fields = sorted({name for rule in mapping.entities for name in rule.id.fields} | {"id", "value"})
    records = data.draw(st.lists(st.dictionaries(st.sampled_from(fields), field_values), max_size=5))
    translator = Translator(mapping)
    with bounded(seconds=5, megabytes=64):
        for outcome in translator.translate(records, source="fuzz"):
            assert isinstance(outcome, (dict, RecordError)), outcome
            if isinstance(outcome, dict):
                assert outcome["id"].startswith("urn:")


_LOADED: dict[Path, Any] = {}


def _load(path: Path) -> Any:
    if path not in _LOADED:
        _LOADED[path] = load_mapping(path)
    return _LOADED[path]


@pytest.fixture
def loopback() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on loopback that records every request: nothing may reach it."""
    with recording_server() as found:
        yield found


def test_urls_in_a_mapping_and_its_records_are_never_fetched(loopback: tuple[str, list[str]]) -> None:
    url, seen = loopback
    text = f"""\
id: ssrf
source: {{format: json}}
entities:
  - id: "urn:ngsi-ld:Device:ssrf:{{id}}"
    type: Device
    attributes:
      source: {{value: "{url}/value"}}
      description: {{from: link}}
      refDeviceModel: {{relationship: "urn:ngsi-ld:DeviceModel:{{model}}"}}
"""
    translator = Translator(load_mapping("ssrf.yaml", text=text))
    records = [{"id": "1", "link": f"{url}/record", "model": f"{url}/model", "@context": f"{url}/context"}]
    outcomes = list(translator.translate(records))
    assert outcomes and all(isinstance(outcome, (dict, RecordError)) for outcome in outcomes)
    assert seen == []
