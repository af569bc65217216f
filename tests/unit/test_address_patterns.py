"""Finding addresses in text (exclusions before parsing, EUII scrubbing of logs) stays
linear in the text: a long run of word characters (a QoE report padded with a 300 KB
comment, a hostile record) once made both patterns backtrack over the rest of the run
from every position in it, minutes of CPU for one record with the tenant's exclusions
on. The matches themselves are unchanged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from shared.exclusions import ExclusionPolicy
from shared.telemetry.scrubbing import scrub_text

ROOT = Path(__file__).resolve().parents[2]
POLICY = ExclusionPolicy(users=["carol@contoso.com"], domains=["fabrikam.com"])


def test_addresses_are_found_where_they_were():
    assert POLICY.excludes_record({"data": "from sip:carol@contoso.com;tag=1"})
    assert POLICY.excludes_record({"data": "<a>x</a> Carol@Contoso.com, y"})
    assert POLICY.excludes_record({"data": "xsip:carol@contoso.com"})
    assert POLICY.excludes_record({"data": "z" * 600 + " dave@fabrikam.com"})
    assert not POLICY.excludes_record({"data": "alice.carol@contoso.com and bob@contoso.com"})
    assert scrub_text("to alice.smith@contoso.com;") == "to [upn];"
    assert scrub_text("GET /users/alice%40contoso.com/calls") == "GET /users/[upn]/calls"
    assert scrub_text("x" * 300 + "@contoso.com") == "[upn]"


def test_a_megabyte_run_of_word_characters_is_read_in_linear_time():
    """In a child process, so a regression fails here (the old patterns needed over an
    hour for this text) instead of hanging the run."""
    code = (
        "from shared.exclusions import ExclusionPolicy\n"
        "from shared.telemetry.scrubbing import scrub_text\n"
        "p = ExclusionPolicy(users=['carol@contoso.com'])\n"
        "text = 'x' * 1_000_000 + ' carol@contoso.com ' + 'y' * 1_000_000 + '@'\n"
        "assert p.excludes_record({'data': text})\n"
        "assert '[upn]' in scrub_text(text) and 'carol' not in scrub_text(text)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
