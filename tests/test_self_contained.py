"""The repository needs nothing beside it: no code reads a folder outside the clone.

Reference material (Smart Data Models, city feeds, vendor payloads) is copied into ``tests/data``
with its origin in ``tests/data/SOURCES.md``; ``.ci/run`` proves it by running the tests from a
copy of the tracked files in an empty temporary directory.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("tests", "benchmarks", "scripts", "contextbridge")
BESIDE = "shared"  # the reference folder beside the clone (spelt apart: this file names no path to it)
# "../<it>", "/work/<it>", `parent.parent.parent / "<it>"` or `ROOT.parent / ...`: outside the clone.
OUTSIDE = re.compile(r"""\.\./shared|/work/|parent\.parent\.parent\s*/\s*["']shared|ROOT\.parent\s*/""")


def sources() -> list[Path]:
    found = [
        path
        for folder in FOLDERS
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".py", ".yaml", ".yml", ".toml", ".json", ".jsonld", ".sh", ".md", ".ttl"}
        and "__pycache__" not in path.parts
    ]
    return sorted(path for path in found if path != Path(__file__).resolve())


def test_no_file_refers_to_a_folder_beside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == [], "copy the data into tests/data (see its SOURCES.md):\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    "line",
    [
        f'SDM = Path(__file__).resolve().parent.parent.parent / "{BESIDE}" / "sdm"',
        f'SDM_DIR = Path("/work/{BESIDE}/sdm")',
        f'open("../{BESIDE}/datasets/x.json")',
        f'SDM = ROOT.parent / "{BESIDE}" / "sdm"',
    ],
)
def test_the_check_catches_each_way_of_reaching_outside(line: str) -> None:
    assert OUTSIDE.search(line)


def test_the_copied_data_says_where_it_comes_from() -> None:
    sources_md = (ROOT / "tests" / "data" / "SOURCES.md").read_text(encoding="utf-8")
    for folder in ("sdm", "santander", "formats"):
        assert (ROOT / "tests" / "data" / folder).is_dir()
        assert f"`{folder}/`" in sources_md
    assert "Licence" in sources_md
