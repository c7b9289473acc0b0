"""The README's command table is the command line's: every command, sub-command and option it
names exists, and every command exists in it (``--help`` and the README never disagree)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import typer.main
from typer.testing import CliRunner

from contextbridge.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"


def table() -> list[str]:
    """The first cell of each row of the README's "Commands" table."""
    section = README.read_text(encoding="utf-8").split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [re.split(r"(?<!\\)\|", row)[1] for row in rows]


def named(cell: str) -> list[tuple[tuple[str, ...], list[str]]]:
    """The commands a cell names, each with the options written beside it.

    "`contextbridge dlq list\\|show`" names ("dlq", "list") and ("dlq", "show"); a span that does not
    start with ``contextbridge`` (`` `import FILE.csv` ``, `` `--list` ``) continues the one before."""
    found: list[tuple[tuple[str, ...], list[str]]] = []
    group: tuple[str, ...] = ()
    for span in re.findall(r"`([^`]+)`", cell):
        words = span.replace("\\|", "|").split()
        if words[0] == "contextbridge":
            words = words[1:]
            group = ()
        elif words[0].startswith("-"):
            found[-1][1].extend(w.strip("[]").split("=")[0] for w in words if w.strip("[").startswith("--"))
            continue
        path: list[str] = list(group)
        rest = words
        while rest and re.fullmatch(r"[a-z][a-z|-]*", rest[0]):
            path.append(rest.pop(0))
        options = [w.strip("[]").split("=")[0] for w in rest if w.strip("[").startswith("--")]
        *head, last = path
        for name in last.split("|"):
            found.append(((*head, name), list(options)))
        if len(path) > 1 and not group:
            group = tuple(path[:-1])
    return found


def commands(command: click.Command, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    found: dict[tuple[str, ...], click.Command] = {}
    for name, sub in getattr(command, "commands", {}).items():
        found[(*prefix, name)] = sub
        found.update(commands(sub, (*prefix, name)))
    return found


def test_the_readme_table_and_the_command_line_agree() -> None:
    cli = commands(typer.main.get_command(app))
    documented = [entry for cell in table() for entry in named(cell)]
    assert documented, "no command table in the README"
    for path, options in documented:
        assert path in cli, f"README names `contextbridge {' '.join(path)}`, which does not exist"
        known = {opt for param in cli[path].params for opt in param.opts}
        unknown = sorted(set(options) - known)
        assert not unknown, f"README: `contextbridge {' '.join(path)}` has no option {unknown}"
    top = {path[0] for path, _ in documented}
    missing = sorted(name for (name, *rest) in cli if not rest and name not in top)
    assert not missing, f"commands missing from the README's table: {missing}"
    groups = {path[:-1] for path in cli if len(path) > 1}
    for group in groups:
        listed = {path for path, _ in documented if path[: len(group)] == group and len(path) > len(group)}
        absent = sorted(" ".join(p) for p in cli if p[:-1] == group and p not in listed)
        assert not absent, f"README's table lacks: {absent}"


def test_every_command_has_help_and_the_graph_says_what_it_has() -> None:
    runner = CliRunner()
    for path, command in commands(typer.main.get_command(app)).items():
        assert (command.help or "").strip(), f"`contextbridge {' '.join(path)}` has no help"
    graph = runner.invoke(app, ["graph", "--help"])
    assert graph.exit_code == 0 and "load" in graph.output
    assert "inspect" not in graph.output  # it only loads: questions are `contextbridge sparql`'s


def test_version() -> None:
    from importlib.metadata import version

    answer = CliRunner().invoke(app, ["--version"])
    assert answer.exit_code == 0 and answer.output.strip() == f"contextbridge {version('contextbridge')}"
