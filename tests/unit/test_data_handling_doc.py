"""docs/data-handling.md cannot drift from the code: its field tables are what
`tools.datadoc` generates from the models, the code writing each document, the
visibility classification and the storage layout, and every stored field is named in
it. Server-free: it reads code and the document, nothing else."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel

from shared.models.call import Endpoint
from shared.parsing.cdr import SfbCdr
from tools import datadoc

DOC = datadoc.DOC.read_text(encoding="utf-8")


def test_committed_tables_are_what_the_code_generates() -> None:
    assert datadoc.render(DOC) == DOC, "docs/data-handling.md is stale: python -m tools.datadoc"
    assert datadoc.main(["--check"]) == 0


def test_every_stored_field_is_named_in_the_document() -> None:
    from shared.models.envelope import BatchEnvelope, Record, Source

    models: list[type[BaseModel]] = [*datadoc._call_models(), BatchEnvelope, Record, Source, SfbCdr]
    for model in models:
        for name in datadoc.model_fields(model):
            assert f"`{name}`" in DOC or f"`{model.__name__}.{name}`" in DOC, (
                f"{model.__name__}.{name} is not in docs/data-handling.md"
            )
    for doc, keys in datadoc.document_keys().items():
        for key in keys:
            assert f"`{key}`" in DOC, f"{doc} key {key} is not in docs/data-handling.md"


def test_a_new_model_field_stops_the_generator_until_it_is_described() -> None:
    class Endpoint2(Endpoint):  # what a developer adding a field to Endpoint would do
        badge_number: str | None = None

    Endpoint2.__name__ = "Endpoint"
    models = [m if m is not Endpoint else Endpoint2 for m in datadoc._call_models()]
    with pytest.raises(datadoc.MissingDoc, match=r"Endpoint\.badge_number"):
        datadoc.call_document_tables(models)


def test_a_new_cdr_field_must_be_mapped_or_described() -> None:
    class Cdr2(SfbCdr):
        user1Phone: str | None = None

    with pytest.raises(datadoc.MissingDoc, match="user1Phone"):
        datadoc.cdr_table(Cdr2)


def test_a_new_document_key_or_a_removed_one_stops_the_generator() -> None:
    keys = datadoc.document_keys()
    with pytest.raises(datadoc.MissingDoc, match=r"audit\.actorEmail \(written"):
        datadoc.stored_documents_table(keys | {"audit": [*keys["audit"], "actorEmail"]})
    with pytest.raises(datadoc.MissingDoc, match=r"audit\.actorName \(described"):
        datadoc.stored_documents_table(
            keys | {"audit": [k for k in keys["audit"] if k != "actorName"]}
        )


def test_the_access_column_follows_the_visibility_classification() -> None:
    from shared.analytics.visibility import FIELD_CLASSES

    row = re.search(r"^\| `ip_address` \|.*$", datadoc.call_document_tables(), re.M)
    assert row and "never a specialist" in row.group(0)
    assert "`sessions[].caller.ipAddress`" in datadoc.specialist_never_list()
    loosened = dict(FIELD_CLASSES) | {"sessions[].caller.ipAddress": "basic"}
    row = re.search(r"^\| `ip_address` \|.*$", datadoc.call_document_tables(classes=loosened), re.M)
    assert row and "all levels" in row.group(0)
    assert "`sessions[].caller.ipAddress`" not in datadoc.specialist_never_list(loosened)


def test_unclassified_fields_are_reported_hidden_from_specialists() -> None:
    assert datadoc.visibility("Endpoint", "no_such_field") == (
        "engineer, admin; never a specialist (not classified)"
    )
    assert datadoc.visibility("Fragment", "sessions") == "never in a response"


def test_every_block_has_a_generator_and_every_generator_a_block() -> None:
    with pytest.raises(datadoc.MissingDoc, match="lacks the generated block"):
        datadoc.render(DOC.replace("datadoc:begin telemetry", "datadoc:begin-x telemetry"))
    with pytest.raises(datadoc.MissingDoc, match="no generator"):
        datadoc.render(DOC + "\n<!-- datadoc:begin bogus -->\n<!-- datadoc:end bogus -->\n")


def test_models_are_introspected_not_listed() -> None:
    class Tiny(BaseModel):
        a: int
        b: str

    assert datadoc.model_fields(Tiny) == ["a", "b"]
    with pytest.raises(TypeError):
        datadoc.model_fields(int)
