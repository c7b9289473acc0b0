"""The playground's "Draft from payload", in a real headless Chromium against a real service."""

from __future__ import annotations

import json
from typing import Any

from browser import ConsolePage
from test_console import KEY, chromium, laptop, service  # noqa: F401  (the fixtures, reused)

READINGS = [
    {"codigo": f"EST-{n}", "instante": f"2024-05-14T0{n}:00:00Z", "temperatura": 12.5 + n, "humedad": 60 + n}
    for n in range(1, 4)
]


def test_a_pasted_payload_is_drafted_into_the_editor(laptop: ConsolePage) -> None:  # noqa: F811
    laptop.open("playground", key=KEY)
    page = laptop.page
    page.wait_for_selector("#draft-mapping")
    # a first visit loads an example mapping: let it land before the draft replaces it
    laptop.wait_until("() => document.querySelector('#mapping-editor textarea').value.length > 0", seconds=30)
    page.select_option("#mapping-picker", "")
    page.fill("#payload-editor textarea", json.dumps(READINGS, indent=2))
    page.click("#draft-mapping")
    laptop.wait_until(
        "() => document.querySelector('#mapping-editor textarea').value.startsWith('# Drafted by')",
        seconds=30,
    )
    text = page.input_value("#mapping-editor textarea")
    assert "temperature: {from: temperatura" in text and "# 'temperatura' ~ temperature" in text
    page.wait_for_selector("#entities:has-text('EST-3')", timeout=30_000)  # the machine may be busy
    entities: list[dict[str, Any]] = json.loads(page.text_content("#entities") or "")
    assert [e["temperature"]["value"] for e in entities] == [13.5, 14.5, 15.5]
    assert "Draft for" in (page.text_content("#draft-ranking") or "")
    ranked = page.eval_on_selector_all("#draft-type option", "options => options.map(o => o.value)")
    assert len(ranked) == 4 and ranked[0] == ""  # best-ranked, then the top three
    page.select_option("#draft-type", ranked[2])  # another type: drafted again for it
    laptop.wait_until(
        "(type) => document.querySelector('#mapping-editor textarea').value.includes(`type: ${type}`)",
        ranked[2],
        seconds=30,
    )
    laptop.check_layout("playground-draft")
