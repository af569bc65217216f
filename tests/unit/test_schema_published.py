import json
from pathlib import Path

from shared.parsing.cdr import json_schema

SCHEMA = Path(__file__).parents[2] / "schemas" / "sfb-cdr-json.schema.json"


def test_published_cdr_schema_matches_the_model():
    """Regenerate with: python -m shared.parsing.cdr > schemas/sfb-cdr-json.schema.json"""
    assert json.loads(SCHEMA.read_text()) == json_schema()


def test_schema_accepts_a_factory_record():
    from tests.factories import cdr

    schema = json_schema()
    assert set(schema["required"]) <= set(cdr())
