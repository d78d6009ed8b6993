"""Property tests: every written line is one valid contract record, and params round-trip after redaction."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditview.contract import parse_line
from auditview.writer import REDACTED, Auditor, Redactor

_text = st.text(max_size=40)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_json = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=20,
)
_params = st.dictionaries(_text, _json, max_size=6)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=_params, command=_text, trace_id=_text, exit_code=st.integers(-255, 255))
def test_every_line_is_a_valid_record_and_params_round_trip(
    params: dict[str, Any], command: str, trace_id: str, exit_code: int
) -> None:
    """Any params/command/trace id give one line that check_record accepts, params = redacted params."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.jsonl"
        auditor = Auditor("prop", "1", log_path=path)
        with auditor.invocation(command or "c", params, trace_id=trace_id or None) as inv:
            inv.exit_code = exit_code
        data = path.read_bytes()
    assert data.endswith(b"\n")
    assert data.count(b"\n") == 1
    record = parse_line(data)
    assert record["params"] == Redactor()(params)
    assert record["exit_code"] == exit_code
    assert record["request_id"] == inv.request_id


@settings(max_examples=100, deadline=None)
@given(
    params=_params, secret=st.text(min_size=8, max_size=30, alphabet="abcdefghijklmnopqrstuvwxyz0123456789")
)
def test_a_value_under_a_secret_key_never_survives(params: dict[str, Any], secret: str) -> None:
    """Whatever else params holds, a value stored under a secret-looking key (at any depth) is replaced."""
    nested = {"outer": {"list": [{"db_password": secret}]}, "API_KEY": secret, **params}
    redacted = Redactor()(nested)
    assert redacted["API_KEY"] == REDACTED
    assert redacted["outer"]["list"][0]["db_password"] == REDACTED
