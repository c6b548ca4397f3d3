"""Schemathesis hooks for the mailing API, named by schemathesis.toml beside this file."""

import csv
import io
import json
import subprocess

import schemathesis
from hypothesis import strategies as st
from schemathesis.openapi.checks import EnsureResourceAvailability

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

# `client-csv` is the body of POST /api/clients/import/: a header row, then client rows. A string the
# schema allows is not necessarily CSV with the required columns (that is a 400), so valid bodies come
# from this strategy: the required columns and maybe the optional ones, in any order, rows valid or not
# (invalid rows are reported in a 200, not refused).
_CSV_COLUMNS = ["phone_number", "timezone", "mobile_operator_code", "tag"]
_PHONES = st.from_regex(r"\A7[0-9]{10}\Z")
_CELLS = {
    "phone_number": st.one_of(_PHONES, st.sampled_from(["", "123", "8abc"])),
    "timezone": st.one_of(st.sampled_from(ZONES), st.sampled_from(["", "Mars/Olympus"])),
    "mobile_operator_code": st.sampled_from(["", "916", "12"]),
    "tag": st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=70),
}


@st.composite
def _client_csv(draw):
    columns = draw(st.permutations(_CSV_COLUMNS[:2] + draw(st.lists(st.sampled_from(_CSV_COLUMNS[2:]), unique=True))))
    rows = draw(st.lists(st.tuples(*(_CELLS[c] for c in columns)), max_size=5))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


schemathesis.openapi.format("client-csv", _client_csv())


def _invalid_beyond_schema(body):
    """What a schema cannot state: a zone that is none (the coverage phase draws a string with both a
    pattern and a custom format from the pattern alone, e.g. 64 times `A`), and a send window whose
    `from` equals its `to` (refused with 400, as openapi.yaml says)."""
    if isinstance(body, str):
        # A "valid" CSV body that the coverage phase drew from the schema's type alone, not the format.
        return not _is_client_csv(body)
    if not isinstance(body, dict):
        return False
    if isinstance(body.get("timezone"), str) and body["timezone"] not in KNOWN_ZONES:
        return True
    window = body.get("send_window")
    return isinstance(window, dict) and "from" in window and window.get("from") == window.get("to")


def _is_client_csv(body):
    try:
        header = next(csv.reader(io.StringIO(body)), [])
    except csv.Error:
        return False
    return {"phone_number", "timezone"} <= set(header) <= set(_CSV_COLUMNS) and len(set(header)) == len(header)


@schemathesis.hook
def filter_case(context, case):
    """Drops "valid" cases that are invalid in ways the schema cannot state."""
    return not (case.meta is not None and case.meta.generation.mode.is_positive and _invalid_beyond_schema(case.body))


# A mailing DELETE that answers 503 has deleted the mailing all the same (openapi.yaml: sending was not
# confirmed stopped in time, as for a running mailing no worker here serves), so later requests to it
# are rightly 404. Schemathesis counts only a 2xx DELETE as a removal and would report "created resource
# not found"; these paths tell it otherwise.
DELETED_UNCONFIRMED = set()


@schemathesis.hook
def after_call(context, case, response):
    if case.method == "DELETE" and case.path == "/api/mailings/{id}/" and response.status_code == 503:
        DELETED_UNCONFIRMED.add(case.formatted_path)


@schemathesis.hook
def filter_failure(context, failure, case, response):
    return not (
        isinstance(failure, EnsureResourceAvailability)
        and any(case.formatted_path.startswith(path) for path in DELETED_UNCONFIRMED)
    )
