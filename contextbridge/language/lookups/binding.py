"""How an entity uses a lookup: the key it renders from the record and what a miss does.

    >>> bind = compile_binding("sensors", {"key": "{sensor}", "on_miss": "partial"}, table)
    >>> bind({"sensor": "3101"})["street"]
    'Calle Daoíz y Velarde'
    >>> bind({"sensor": "nope"})
    {}

The binding's function gives the row that the entity's paths, templates and expressions then
read under the lookup's name (``sensors.street``). On a miss (no row for the key, or a key that
is missing from the record) the ``on_miss`` policy decides:

- ``skip`` (default): the record is rejected with a TransformError naming the lookup and key;
- ``default``: the ``default`` row is used (a mapping of column → value);
- ``partial``: an empty row; attributes read from it are missing, so they are left out (or take
  their own ``default``, or reject the record if ``required``);
- ``register``: as ``partial``, and the key is noted in ``table.unknown`` for the source to add
  (the device registry registers unknown devices at its next refresh, attributes to fill in).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import ConfigError, TransformError
from ..fieldpaths import MISSING, compile_path
from ..templates import compile_template
from .table import LookupTable, Row, key_text

MISS_POLICIES = ("skip", "default", "partial", "register")
UNKNOWN_KEPT = 10_000  # unknown keys noted between two refreshes, at most

Bind = Callable[[Mapping[str, Any]], Row]

# a key template that is one placeholder without a filter: "{sensor}", "{properties.id}"
_PLAIN_FIELD = re.compile(r"\{[^{}|]+\}")


def compile_binding(name: str, spec: Any, table: LookupTable) -> Bind:
    """``spec``: a key template (or a list of them, one per key column), or ``{key, on_miss, default}``."""
    if not isinstance(spec, Mapping):
        spec = {"key": spec}
    policy = spec.get("on_miss", "skip")
    if policy not in MISS_POLICIES:
        raise ConfigError(f"{policy!r} is not one of {', '.join(MISS_POLICIES)}", key="on_miss")
    if (policy == "default") != ("default" in spec):
        raise ConfigError("'default' (a row) goes with on_miss: default, and only with it", key="default")
    default = spec.get("default")
    if policy == "default" and not isinstance(default, Mapping):
        raise ConfigError("'default' must be a mapping of column → value", key="default")
    sources = spec["key"] if isinstance(spec["key"], list) else [spec["key"]]
    if len(sources) != len(table.key):
        raise ConfigError(
            f"lookup {name!r} is keyed by {len(table.key)} column(s) {list(table.key)}; "
            f"the entity gives {len(sources)} key template(s)",
            key="key",
        )
    try:
        templates = [compile_template(source) for source in sources]
    except ConfigError as error:
        raise ConfigError(str(error), key="key") from None
    fields = ",".join(field for template in templates for field in template.fields)
    miss_row: Row | None = None if policy == "skip" else dict(default or {})

    def missed(key: Any) -> Row:
        if miss_row is None:
            shown = "missing" if key is MISSING else repr(key)
            raise TransformError(f"lookup {name!r}: no row for key {shown}", field=fields or name)
        if policy == "register" and key is not MISSING and len(table.unknown) < UNKNOWN_KEPT:
            table.unknown.add(key)
        return miss_row

    if len(templates) == 1 and _PLAIN_FIELD.fullmatch(sources[0]):
        # The usual key, one plain field ("{sensor}"): read the path directly, no template.
        get = compile_path(sources[0][1:-1].strip())
        rows_of = table  # the table is read at each call: a reload swaps ``table.rows``

        def bind_field(record: Mapping[str, Any]) -> Row:
            value = get(record)
            key = value.strip() if type(value) is str else key_text(None if value is MISSING else value)
            if not key:
                return missed(MISSING)
            row = rows_of.rows.get(key)
            return missed(key) if row is None else row

        return bind_field

    if len(templates) == 1:
        render = templates[0].render

        def bind_one(record: Mapping[str, Any]) -> Row:
            key = render(record)  # already stripped text, or MISSING
            if key is MISSING:
                return missed(key)
            row = table.rows.get(key)
            return missed(key) if row is None else row

        return bind_one

    renders = tuple(template.render for template in templates)

    def bind_many(record: Mapping[str, Any]) -> Row:
        key = tuple(render(record) for render in renders)
        if MISSING in key:
            return missed(MISSING)
        row = table.rows.get(key)
        return missed(key) if row is None else row

    return bind_many
