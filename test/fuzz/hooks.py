"""Schemathesis hooks for the mailing API, named by schemathesis.toml beside this file."""

import json
import subprocess

import schemathesis
from hypothesis import strategies as st

# `iana-timezone` is this API's own format, which schemathesis cannot generate by itself. The zones
# come from Node's ICU, the database the API checks them against (luxon's IANAZone), so that the
# fuzzer's valid zones are the API's, whatever tz database Python has.
ZONES = json.loads(
    subprocess.run(
        ["node", "-p", "JSON.stringify(Intl.supportedValuesOf('timeZone'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
KNOWN_ZONES = frozenset(ZONES)

schemathesis.openapi.format("iana-timezone", st.sampled_from(ZONES))


@schemathesis.hook
def filter_case(context, case):
    """Drops "valid" cases with a zone that is none: the coverage phase draws a string that has both a
    pattern and a custom format from the pattern alone (e.g. 64 times `A` for maxLength)."""
    body = case.body
    return not (
        case.meta is not None
        and case.meta.generation.mode.is_positive
        and isinstance(body, dict)
        and isinstance(body.get("timezone"), str)
        and body["timezone"] not in KNOWN_ZONES
    )
