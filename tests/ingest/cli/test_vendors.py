"""`ingest vendors`, and the vendor documentation kept in step with the code."""

from __future__ import annotations

import json
import re

from ingest.cli.vendors import VendorEntry, markdown_table
from ingest.handlers import HANDLERS
from tests import support

DOCS = support.ROOT / "docs"
CATALOG = re.compile(r"<!-- catalog:start -->\n(.*?)<!-- catalog:end -->", re.S)


def test_lists_every_vendor() -> None:
    result = support.run_cli({}, support.ROOT, "vendors")
    assert result.returncode == 0
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert listed == set(HANDLERS)


def test_describes_one_vendor_as_json() -> None:
    result = support.run_cli({}, support.ROOT, "vendors", "stripe", "--json")
    entry = json.loads(result.stdout)
    assert entry["vendor"] == "stripe"
    assert entry["mapped_types"]["payment_intent.succeeded"] == "payment.succeeded"
    assert support.run_cli({}, support.ROOT, "vendors", "nope").returncode == 2


def test_catalog_table_in_docs_is_current() -> None:
    found = CATALOG.search((DOCS / "vendors.md").read_text())
    assert found, "docs/vendors.md lost its catalog markers"
    expected = markdown_table([VendorEntry.of(vendor) for vendor in sorted(HANDLERS)])
    assert found.group(1) == expected, "regenerate with `ingest vendors --markdown`"


def test_every_vendor_has_a_page_documenting_each_config_key() -> None:
    for vendor, handler in HANDLERS.items():
        page = DOCS / "vendors" / f"{vendor}.md"
        assert page.exists(), f"docs/vendors/{vendor}.md is missing"
        text = page.read_text()
        assert "/webhooks/" in text, f"{vendor}: say which URL to register"
        for key in handler.options_model.model_fields:
            assert f"`{key}`" in text or f"{key}:" in text, (
                f"{vendor}: config key {key} undocumented"
            )
