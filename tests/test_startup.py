"""Start-up stays light: a module loads when something uses it, not with the package.

``import contextbridge`` and the command line's ``--help`` load none of the heavy libraries, nor
does ``translate`` once its compiled constraints are cached (the time itself is measured by
``benchmarks/startup.py``, against the interpreter's, not here).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

HEAVY = ("psycopg", "owlrl", "aiomqtt", "pyoxigraph", "rdflib")
ROOT = Path(__file__).resolve().parent.parent


def loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level modules a fresh interpreter holds after running ``code`` (its last line of
    output lists them)."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{name.split('.')[0] for name in sys.modules}})))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT, env=env
    )
    return set(done.stdout.splitlines()[-1].split())


def command_line(*args: str) -> str:
    """Code that runs ``contextbridge ARGS`` in the interpreter, as the script does."""
    code = f"import sys\nfrom contextbridge.cli import main\nsys.argv = ['contextbridge', *{list(args)!r}]\n"
    return code + "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code"


def test_importing_the_package_loads_no_heavy_library() -> None:
    assert loaded_after("import contextbridge").isdisjoint(HEAVY)


def test_the_command_lines_help_loads_no_heavy_library() -> None:
    loaded = loaded_after(command_line("--help"))
    assert loaded.isdisjoint({*HEAVY, "httpx", "pyld", "uvicorn", "starlette", "jsonschema"})


def test_a_warm_translate_loads_no_heavy_library(tmp_path: Path) -> None:
    env = {**os.environ, "CONTEXTBRIDGE_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "entities.ndjson"
    args = ("translate", "examples/santander/parking.json", "-m", "mappings/santander-parking.yaml")
    cold = loaded_after(command_line(*args, "-o", str(out)), env)  # compiles, and fills the cache
    assert "rdflib" in cold and list((tmp_path / "cache").glob("constraints-*.json"))
    first = out.read_bytes()
    warm = loaded_after(command_line(*args, "-o", str(out)), env)
    assert warm.isdisjoint(HEAVY) and "contextbridge" in warm
    assert out.read_bytes() == first and first.count(b"\n") == 48  # the same entities


def test_translating_with_a_local_mapping_loads_no_client_of_a_server() -> None:
    code = (
        "from contextbridge import Translator, load_mapping\n"
        "Translator(load_mapping('mappings/santander-parking.yaml'))"
    )
    assert loaded_after(code).isdisjoint({"psycopg", "aiomqtt", "httpx", "uvicorn"})


def test_a_heavy_library_loads_when_it_is_used() -> None:
    assert "psycopg" in loaded_after("from contextbridge.language.lookups import SqlSource")
    assert "pyoxigraph" in loaded_after("from contextbridge.sinks.graph import EmbeddedStore")


@pytest.mark.parametrize(
    "package",
    [
        "contextbridge",
        "contextbridge.sinks.broker",
        "contextbridge.sinks.graph",
        "contextbridge.language.lookups",
    ],
)
def test_every_public_name_of_a_lazy_package_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
        assert name in dir(module)
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


@pytest.mark.parametrize(
    "name", sorted(p.name for p in resources.files("contextbridge").joinpath("schemas").iterdir())
)
def test_every_packaged_schema_is_a_valid_json_schema(name: str) -> None:
    # Checked here, once, rather than at every start of the command line.
    text = resources.files("contextbridge").joinpath("schemas", name).read_text(encoding="utf-8")
    jsonschema.Draft202012Validator.check_schema(json.loads(text))
