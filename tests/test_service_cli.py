"""``contextbridge serve`` and ``contextbridge subscribe``, as an operator runs them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest
from broker_double import BrokerDouble, serve
from processes import Served
from typer.testing import CliRunner

from contextbridge import MappingError, load_config
from contextbridge.cli import app

runner = CliRunner()
NOTIFY = "http://contextbridge.example:8080/ngsi-ld/notify"
KEY = "orion-sends-this-key-0123"


def test_subscribe_creates_the_subscription_orion_ld_needs() -> None:
    double = BrokerDouble(multiservice=True)
    with serve(double) as url:
        result = runner.invoke(
            app,
            ["subscribe", "--broker", url, "--type", "WeatherObserved", "--type", "ParkingSpot",
             "--notify", NOTIFY, "--tenant", "santander", "--api-key-env", "CB_TEST_ORION_KEY",
             "--format", "keyValues", "--watch", "temperature", "--watch", "status"],
            env={"CB_TEST_ORION_KEY": KEY},
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        subscription_id = result.stdout.strip()
        stored = double.subscriptions["santander"][subscription_id]
        assert stored["type"] == "Subscription"
        assert stored["entities"] == [{"type": "WeatherObserved"}, {"type": "ParkingSpot"}]
        assert stored["watchedAttributes"] == ["temperature", "status"]
        assert stored["notification"] == {
            "format": "keyValues",
            "endpoint": {
                "uri": NOTIFY,
                "accept": "application/json",
                "receiverInfo": [{"key": "X-API-Key", "value": KEY}],
            },
        }
        assert ("POST", "/ngsi-ld/v1/subscriptions", 201) in double.requests

        listed = runner.invoke(app, ["subscribe", "--broker", url, "--tenant", "santander", "--list"])
        assert listed.exit_code == 0, listed.output
        assert subscription_id in listed.stdout and "WeatherObserved,ParkingSpot" in listed.stdout
        assert KEY not in listed.output

        deleted = runner.invoke(
            app, ["subscribe", "--broker", url, "--tenant", "santander", "--delete", subscription_id]
        )
        assert deleted.exit_code == 0, deleted.output
        assert double.subscriptions["santander"] == {}


def test_subscribe_reports_what_is_missing() -> None:
    double = BrokerDouble()
    with serve(double) as url:
        result = runner.invoke(app, ["subscribe", "--broker", url, "--notify", NOTIFY])
        assert result.exit_code != 0 and "--type" in str(result.exception)
        result = runner.invoke(
            app,
            [
                "subscribe",
                "--broker",
                url,
                "--type",
                "T",
                "--notify",
                NOTIFY,
                "--api-key-env",
                "CB_TEST_UNSET_VAR",
            ],
            env={},
        )
        assert result.exit_code != 0 and "CB_TEST_UNSET_VAR" in str(result.exception)
        assert double.subscriptions == {}


CONFIG = """\
service:
  api_keys:
    - name: orion
      key: "${CB_TEST_SERVICE_KEY}"
      tenants: "*"
      write: true
  sparql: {timeout: 5, limit: 100}
"""


def test_serve_answers_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "contextbridge.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    served = Served(config, tmp_path / "state", {"CB_TEST_SERVICE_KEY": KEY})
    base = served.url
    try:
        assert httpx.get(base + "/health").json() == {"status": "ok"}
        assert httpx.get(base + "/ready").status_code == 200
        answer = httpx.get(
            base + "/sparql",
            params={"query": "ASK { ?c a <http://www.w3.org/2002/07/owl#Class> }"},
            headers={"X-API-Key": KEY},
        )
        assert answer.status_code == 200 and answer.json()["boolean"] is True  # the ontology is loaded
        assert httpx.get(base + "/sparql", params={"query": "ASK {}"}).status_code == 401
    finally:
        code, stderr = served.stop()
    assert code == 0, stderr
    assert KEY not in stderr
    assert (tmp_path / "state" / "graph").is_dir()  # the embedded store of the state directory


def test_serve_refuses_a_bad_configuration_with_its_lines(tmp_path: Path) -> None:
    config = tmp_path / "contextbridge.yaml"
    config.write_text(
        textwrap.dedent("""\
        service:
          port: 99999
          api_keys:
            - name: orion
              key: "${CB_TEST_UNSET_VAR}"
              write: "yes"
        """),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["serve", str(config)], env={})
    assert result.exit_code != 0
    assert isinstance(result.exception, MappingError)
    lines = {problem.line for problem in result.exception.problems}
    assert lines == {2, 6}  # schema problems first; the unset variable is reported once they are fixed
    config.write_text(CONFIG.replace("${CB_TEST_SERVICE_KEY}", "${CB_TEST_UNSET_VAR}"), encoding="utf-8")
    with pytest.raises(
        MappingError, match=r":4: service.api_keys\[0\].key: environment variable CB_TEST_UNSET_VAR"
    ):
        load_config(config, environ={})
    config.write_text(CONFIG.replace("${CB_TEST_SERVICE_KEY}", "short"), encoding="utf-8")
    with pytest.raises(MappingError, match="shorter than 16"):
        load_config(config)


def test_the_service_section_is_read(tmp_path: Path) -> None:
    config = tmp_path / "contextbridge.yaml"
    config.write_text(
        CONFIG
        + textwrap.dedent("""\
          host: 0.0.0.0
          max_body_bytes: 65536
          allowed_contexts: [https://smartdatamodels.org/context.jsonld]
        graph:
          endpoint: http://127.0.0.1:7878/query
        """),
        encoding="utf-8",
    )
    loaded = load_config(config, environ={"CB_TEST_SERVICE_KEY": KEY})
    service = loaded.service
    assert (service.host, service.port, service.max_body_bytes) == ("0.0.0.0", 8080, 65536)
    assert (service.sparql_timeout, service.sparql_limit) == (5, 100)
    assert service.allowed_contexts == ("https://smartdatamodels.org/context.jsonld",)
    (key,) = service.api_keys
    assert key.tenants is None and key.write and key.allows("anything")
    assert KEY not in repr(loaded)
    assert loaded.graph.endpoint == "http://127.0.0.1:7878/query"
    assert loaded.feeds == ()
