"""observedAt: record times in ISO 8601, epoch or strftime formats become UTC ISO 8601 with "Z"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contextbridge import ConfigError, TransformError
from contextbridge.language.times import compile_time_parser, format_utc


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2016-04-11T13:24:19Z", "2016-04-11T13:24:19Z"),  # Santander's open data
        ("2021-06-01T18:43:00Z", "2021-06-01T18:43:00Z"),
        ("2025-07-30T06:01:08.563Z", "2025-07-30T06:01:08.563Z"),  # milliseconds are kept
        ("2025-07-30T06:01:08.563789Z", "2025-07-30T06:01:08.563Z"),  # and truncated, not rounded
        ("2025-07-30T06:01:08.000Z", "2025-07-30T06:01:08Z"),
        ("2016-04-11T15:24:19+02:00", "2016-04-11T13:24:19Z"),
        ("2016-04-11T10:24:19-0300", "2016-04-11T13:24:19Z"),
        ("2016-04-11 13:24:19", "2016-04-11T13:24:19Z"),  # a space instead of the T
        ("2016-04-11", "2016-04-11T00:00:00Z"),  # a date alone is midnight
        ("2016-04-11T13:24", "2016-04-11T13:24:00Z"),
        (" 2016-04-11t13:24:19z ", "2016-04-11T13:24:19Z"),
    ],
)
def test_iso8601_times_become_utc_with_z(raw: str, expected: str) -> None:
    assert compile_time_parser("iso8601")(raw) == expected


def test_iso8601_is_the_default_format() -> None:
    assert compile_time_parser()("2016-04-11T13:24:19Z") == "2016-04-11T13:24:19Z"


def test_a_naive_time_is_local_time_in_the_zone() -> None:
    madrid = compile_time_parser("iso8601", tz="Europe/Madrid")
    assert madrid("2016-07-01T12:00:00") == "2016-07-01T10:00:00Z"  # summer: +02:00
    assert madrid("2016-01-15T12:00:00") == "2016-01-15T11:00:00Z"  # winter: +01:00
    assert madrid("2016-04-11") == "2016-04-10T22:00:00Z"  # midnight in Madrid


def test_a_time_with_an_offset_keeps_it_whatever_the_zone() -> None:
    madrid = compile_time_parser("iso8601", tz="Europe/Madrid")
    assert madrid("2016-01-15T12:00:00+02:00") == "2016-01-15T10:00:00Z"
    assert madrid("2016-01-15T12:00:00Z") == "2016-01-15T12:00:00Z"


def test_without_a_zone_naive_times_are_utc() -> None:
    assert compile_time_parser("iso8601")("2016-07-01T12:00:00") == "2016-07-01T12:00:00Z"
    assert compile_time_parser("iso8601", tz="UTC")("2016-07-01T12:00:00") == "2016-07-01T12:00:00Z"


def test_a_repeated_local_hour_is_its_first_occurrence() -> None:
    # 2016-10-30 in Madrid: 03:00 CEST went back to 02:00 CET, so 02:30 happened twice (fold=0).
    madrid = compile_time_parser("iso8601", tz="Europe/Madrid")
    assert madrid("2016-10-30T02:30:00") == "2016-10-30T00:30:00Z"  # 02:30+02:00


def test_a_skipped_local_hour_is_read_with_the_offset_before_the_change() -> None:
    # 2016-03-27 in Madrid: 02:00 CET jumped to 03:00 CEST; 02:30 never happened (fold=0).
    madrid = compile_time_parser("iso8601", tz="Europe/Madrid")
    assert madrid("2016-03-27T02:30:00") == "2016-03-27T01:30:00Z"  # 02:30+01:00


def test_datetime_objects_are_accepted() -> None:
    parse = compile_time_parser("iso8601", tz="Europe/Madrid")
    assert parse(datetime(2016, 7, 1, 12, 0)) == "2016-07-01T10:00:00Z"
    assert parse(datetime(2016, 7, 1, 12, 0, tzinfo=UTC)) == "2016-07-01T12:00:00Z"


@pytest.mark.parametrize("raw", [1459000000, "1459000000", " 1459000000 ", 1459000000.0])
def test_epoch_seconds(raw: object) -> None:
    assert compile_time_parser("epoch")(raw) == "2016-03-26T13:46:40Z"


def test_epoch_fractions_of_seconds_keep_milliseconds() -> None:
    assert compile_time_parser("epoch")(1459000000.25) == "2016-03-26T13:46:40.250Z"
    assert compile_time_parser("epoch")("1459000000.5") == "2016-03-26T13:46:40.500Z"


@pytest.mark.parametrize("raw", [1459000000123, "1459000000123"])
def test_epoch_milliseconds(raw: object) -> None:
    # Integer milliseconds are exact: no float rounding turns .123 into .122.
    assert compile_time_parser("epoch_ms")(raw) == "2016-03-26T13:46:40.123Z"


def test_epoch_times_before_1970() -> None:
    assert compile_time_parser("epoch_ms")(-1) == "1969-12-31T23:59:59.999Z"


def test_epoch_ignores_the_zone() -> None:
    assert compile_time_parser("epoch", tz="Europe/Madrid")(1459000000) == "2016-03-26T13:46:40Z"


def test_strftime_formats_read_in_the_zone() -> None:
    parse = compile_time_parser("%d/%m/%Y %H:%M", tz="Europe/Madrid")
    assert parse("11/04/2016 15:24") == "2016-04-11T13:24:00Z"
    assert parse("15/01/2016 12:00") == "2016-01-15T11:00:00Z"


def test_strftime_formats_with_an_offset_keep_it() -> None:
    parse = compile_time_parser("%Y-%m-%d %H:%M:%S %z", tz="Europe/Madrid")
    assert parse("2016-01-15 12:00:00 +0300") == "2016-01-15T09:00:00Z"


@pytest.mark.parametrize(
    "raw", ["", "yesterday", None, "2016-13-01T00:00:00Z", "2016-04-11T24:00:00", 5, [1]]
)
def test_values_that_are_not_iso8601_times_are_rejected_with_the_value(raw: object) -> None:
    with pytest.raises(TransformError) as caught:
        compile_time_parser("iso8601", tz="Europe/Madrid")(raw)
    assert caught.value.reason == f"{raw!r} is not an ISO 8601 time"
    assert caught.value.field is None  # the caller knows the field and fills it in


@pytest.mark.parametrize(
    "raw", ["", "yesterday", None, True, "12,5", float("nan"), float("inf"), [1459000000]]
)
def test_values_that_are_not_epoch_times_are_rejected(raw: object) -> None:
    with pytest.raises(TransformError, match=r"is not a time in seconds since 1970"):
        compile_time_parser("epoch")(raw)


def test_milliseconds_read_as_seconds_are_out_of_range_with_a_hint() -> None:
    with pytest.raises(
        TransformError, match=r"^1459000000123 is not a time in seconds .*use format epoch_ms"
    ):
        compile_time_parser("epoch")(1459000000123)


@pytest.mark.parametrize("raw", ["", "2016-04-11", "11/04/2016", "32/01/2016 10:00", None])
def test_values_not_in_the_strftime_format_are_rejected(raw: object) -> None:
    with pytest.raises(TransformError, match=r"is not a time written as '%d/%m/%Y %H:%M'"):
        compile_time_parser("%d/%m/%Y %H:%M")(raw)


def test_an_unknown_zone_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"unknown time zone 'Europe/Madird'; did you mean Europe/Madrid"):
        compile_time_parser("iso8601", tz="Europe/Madird")
    with pytest.raises(ConfigError, match=r"unknown time zone 'Mars/Olympus'"):
        compile_time_parser("iso8601", tz="Mars/Olympus")
    with pytest.raises(ConfigError, match=r"unknown time zone '\.\./etc/passwd'"):
        compile_time_parser("epoch", tz="../etc/passwd")


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("iso", r"unknown time format 'iso': use iso8601, epoch, epoch_ms or a strftime format"),
        ("epoch_s", r"unknown time format 'epoch_s'"),
        ("%Y-%m-%d %Q", r"bad time format '%Y-%m-%d %Q': 'Q' is a bad directive"),
        ("%d/%m %H:%M", r"time format '%d/%m %H:%M' has no year"),
    ],
)
def test_a_bad_format_is_a_configuration_error(fmt: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        compile_time_parser(fmt)


def test_format_utc_writes_seconds_or_milliseconds() -> None:
    assert format_utc(datetime(2016, 4, 11, 13, 24, 19, tzinfo=UTC)) == "2016-04-11T13:24:19Z"
    assert format_utc(datetime(2016, 4, 11, 13, 24, 19, 123456, tzinfo=UTC)) == "2016-04-11T13:24:19.123Z"
    assert format_utc(datetime(2016, 4, 11, 13, 24, 19, 999999, tzinfo=UTC)) == "2016-04-11T13:24:19.999Z"
    assert format_utc(datetime(2016, 4, 11, 13, 24, 19, 999, tzinfo=UTC)) == "2016-04-11T13:24:19Z"


def test_format_utc_converts_to_utc() -> None:
    madrid = datetime(2016, 4, 11, 15, 24, 19, tzinfo=ZoneInfo("Europe/Madrid"))
    assert format_utc(madrid) == "2016-04-11T13:24:19Z"
    assert (
        format_utc(datetime(2016, 4, 11, 8, 0, tzinfo=timezone(timedelta(hours=-5))))
        == "2016-04-11T13:00:00Z"
    )
    assert format_utc(datetime(2016, 4, 11, 13, 0)) == "2016-04-11T13:00:00Z"  # naive is UTC
    assert format_utc(datetime(33, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0033-01-02T03:04:05Z"


def _truncated_to_ms(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


AWARE = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(2200, 12, 30), timezones=st.timezones()
)


@given(AWARE)
def test_round_trip_is_stable_and_keeps_milliseconds(moment: datetime) -> None:
    parse = compile_time_parser("iso8601", tz="America/New_York")
    text = format_utc(moment)
    assert parse(text) == text
    assert datetime.fromisoformat(text) == _truncated_to_ms(moment)


@given(AWARE)
def test_any_offset_in_the_input_gives_the_same_instant(moment: datetime) -> None:
    parse = compile_time_parser("iso8601", tz="Asia/Tokyo")
    assert parse(moment.isoformat()) == format_utc(moment)


@given(
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 12, 30)),
    st.sampled_from(["Europe/Madrid", "America/Sao_Paulo", "Australia/Lord_Howe", "UTC"]),
)
def test_naive_times_are_wall_clock_times_in_the_zone(moment: datetime, zone: str) -> None:
    parse = compile_time_parser("iso8601", tz=zone)
    assert parse(moment.isoformat()) == format_utc(moment.replace(tzinfo=ZoneInfo(zone)))


@given(st.integers(min_value=-(10**12), max_value=10**13))
def test_epoch_milliseconds_agree_with_datetime_arithmetic(milliseconds: int) -> None:
    expected = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=milliseconds)
    assert compile_time_parser("epoch_ms")(milliseconds) == format_utc(expected)
    assert compile_time_parser("epoch_ms")(str(milliseconds)) == format_utc(expected)


@given(AWARE)
def test_format_utc_matches_isoformat(moment: datetime) -> None:
    utc = _truncated_to_ms(moment)
    spec = "milliseconds" if utc.microsecond else "seconds"
    assert format_utc(moment) == utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"
