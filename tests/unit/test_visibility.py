import json

import pytest

from shared.analytics.service import detail_dict
from shared.analytics.visibility import FIELD_CLASSES, mask_phone, project_call
from shared.merge import build_document, union
from shared.models.call import Endpoint, Session, Stream, StreamMetrics, StreamQuality
from shared.parsing import ParseContext, parse_record
from tests.factories import TENANT, cdr

CONF = "sip:org@contoso.com;gruu;opaque=app:conf:focus:id:Q1"


def _doc(records):
    frags = [
        f for r in records for f in parse_record("cdr", "sfb-cdr-json", r, ParseContext(TENANT))
    ]
    merged = union({}, frags)
    doc = build_document(TENANT, frags[0].key, merged, None)
    s = doc.view.sessions[0]
    s.caller = s.caller.model_copy(
        update={
            "ip_address": "10.1.2.3",
            "mac_address": "00-11-22-33-44-55",
            "bssid": "aa:bb:cc:dd:ee:ff",
            "dns_suffix": "corp.contoso.com",
            "capture_device": "Jabra Evolve 65",
            "machine_name": "ALICE-LT",
            "subnet": "10.1.2.0",
        }
    )
    s.streams = [
        Stream(
            id="main-audio:callerToCallee",
            label="main-audio",
            media_type="audio",
            direction="callerToCallee",
            metrics=StreamMetrics(jitter_ms=45.0),
            quality=StreamQuality(
                rating="poor", poor_due_to=["jitter"], flags={"jitter_ms": "red"}
            ),
        )
    ]
    return doc


def test_mask_phone():
    assert mask_phone("tel:+15552823456") == "tel:+15552823***"
    assert mask_phone("+1555") == "+1***"


def test_engineer_sees_everything_but_full_phone_numbers():
    doc = _doc([cdr(1, callee="tel:+15552823456")])
    out = project_call(detail_dict(doc), "engineer")
    text = json.dumps(out)
    assert "10.1.2.3" in text and "Jabra" in text and "ALICE-LT" in text
    assert "+15552823456" not in text and "+15552823***" in text
    assert "+15552823456" in json.dumps(project_call(detail_dict(doc), "admin"))


def test_specialist_gets_no_advanced_or_debug_fields_and_anonymous_others():
    doc = _doc([cdr(1, callee="sip:bob@contoso.com"), cdr(2, callee="tel:+15552823456")])
    out = project_call(detail_dict(doc), "specialist", "alice@contoso.com")
    text = json.dumps(out)
    for secret in (
        "10.1.2.3",
        "00-11-22-33-44-55",
        "aa:bb:cc",
        "corp.contoso.com",
        "Jabra",
        "ALICE-LT",
        "bob@contoso.com",
        "+15552823456",
        "userAgent",
        "jitterMs",
        "UCCAPI",
        "10.1.2.0",
    ):
        assert secret not in text, secret
    assert "alice@contoso.com" in text and "Internal User" in text
    stream = out["sessions"][0]["streams"][0]
    assert stream["quality"]["rating"] == "poor" and "flags" not in stream["quality"]


def test_specialist_sees_only_own_sessions_of_a_meeting():
    legs = [cdr(i, caller=f"sip:u{i}@contoso.com", conference=CONF) for i in range(4)]
    out = project_call(detail_dict(_doc(legs)), "specialist", "u2@contoso.com")
    assert out["participantCount"] == 4 and len(out["sessions"]) == 1
    assert out["sessions"][0]["caller"]["uri"] == "sip:u2@contoso.com"
    assert out["sessions"][0]["callee"]["displayName"] == "Conference"
    names = sorted(p["displayName"] for p in out["participants"])
    assert names.count("Internal User") == 3


def test_unclassified_fields_are_hidden_from_specialists():
    detail = detail_dict(_doc([cdr(1)]))
    detail["brandNewField"] = "secret"
    detail["sessions"][0]["caller"]["newDebugThing"] = "secret"
    assert "secret" not in json.dumps(project_call(detail, "specialist", "alice@contoso.com"))
    assert "secret" in json.dumps(project_call(detail, "engineer"))


@pytest.mark.parametrize(
    "model,prefix",
    [(Endpoint, "sessions[].caller."), (Session, "sessions[]."), (Stream, "sessions[].streams[].")],
)
def test_every_model_field_is_classified(model, prefix):
    """A new model field must be given a class deliberately (it stays hidden until then)."""
    nested = {"caller", "callee", "streams"}
    missing = [
        name
        for name, info in model.model_fields.items()
        if name not in nested and prefix + (info.alias or name) not in FIELD_CLASSES
    ]
    assert missing == []
