"""Redaction of secrets and the record size cap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditview.contract import check_record
from auditview.writer import REDACTED, Auditor, Redactor

from .conftest import read_records

SECRETS = ("hunter2", "s3cr3t-value", "ghp_tok3n", "AKIA-key", "Bearer abc.def", "sessionid=xyz", "pw-in-url")


def test_nested_secret_keys_and_url_passwords_never_reach_the_file(auditor: Auditor, log_path: Path) -> None:
    """Secret-looking keys at any depth, URL passwords and --password args are redacted before writing."""
    params: dict[str, Any] = {
        "user": "alice",
        "Password": "hunter2",
        "db": {
            "url": "postgres://admin:pw-in-url@db.internal:5432/app",
            "conn": {"client_secret": "s3cr3t-value"},
        },
        "headers": [{"Authorization": "Bearer abc.def"}, {"Cookie": "sessionid=xyz"}],
        "GITHUB_TOKEN": "ghp_tok3n",
        "aws": {"ApiKey": "AKIA-key", "PRIVATE_KEY": "x", "credentials": ["a", "b"]},
        "argv": ["--password", "hunter2", "--token=ghp_tok3n", "--name", "ok"],
    }
    with auditor.invocation("deploy", params):
        pass
    raw = log_path.read_text()
    for secret in SECRETS:
        assert secret not in raw
    (record,) = read_records(log_path)
    assert record["params"]["Password"] == REDACTED
    assert record["params"]["db"]["url"] == f"postgres://admin:{REDACTED}@db.internal:5432/app"
    assert record["params"]["db"]["conn"]["client_secret"] == REDACTED
    assert record["params"]["argv"] == ["--password", REDACTED, f"--token={REDACTED}", "--name", "ok"]
    assert record["params"]["user"] == "alice"
    assert params["Password"] == "hunter2"  # the caller's dict is not mutated


def test_tools_add_their_own_keys_and_rules(log_path: Path) -> None:
    """Extra key patterns and rule callables apply alongside the defaults."""

    def mask_card(key: str | None, value: Any) -> Any:
        return (
            "****"
            if isinstance(value, str) and value.replace(" ", "").isdigit() and len(value) >= 12
            else value
        )

    auditor = Auditor("wtest", "1", log_path=log_path, redact_keys=["ssn"], redact_rules=[mask_card])
    with auditor.invocation("pay", {"customer_ssn": "123-45-6789", "note": "4111 1111 1111 1111", "n": 3}):
        pass
    assert read_records(log_path)[0]["params"] == {"customer_ssn": REDACTED, "note": "****", "n": 3}


def test_redactor_keeps_plain_values() -> None:
    """Values that are not secrets are unchanged, including URLs without passwords."""
    data = {"url": "https://example.com/a?b=c", "user_url": "ssh://git@host/repo", "count": 3, "flag": None}
    assert Redactor()(data) == data


def test_large_record_is_capped_and_marked(auditor: Auditor, log_path: Path) -> None:
    """A record over 64 KiB is cut to fit, says truncated: true, and keeps its identity fields."""
    with auditor.invocation("upload", {"blob": "z" * 500_000, "small": "kept"}) as inv:
        pass
    line = log_path.read_bytes()
    assert len(line) <= 64 * 1024 + 1
    (record,) = read_records(log_path)
    check_record(record)
    assert record["truncated"] is True
    assert record["request_id"] == inv.request_id
    assert record["params"]["small"] == "kept"
    assert "truncated" in record["params"]["blob"]
    assert record["params"]["blob"].startswith("zzz")


def test_many_keys_that_cannot_fit_are_replaced(log_path: Path) -> None:
    """When cutting strings is not enough, params become a note and the record still fits and parses."""
    auditor = Auditor("wtest", "1", log_path=log_path, max_record_bytes=4096)
    with auditor.invocation("bulk", {f"k{i}": i for i in range(5000)}):
        pass
    (record,) = read_records(log_path)
    check_record(record)
    assert record["truncated"] is True
    assert "_truncated" in record["params"]
    assert len(log_path.read_bytes()) <= 4097


def test_values_orjson_refuses_are_coerced_not_lost(auditor: Auditor, log_path: Path) -> None:
    """Huge integers, lone surrogates (undecodable argv) and odd keys still produce a valid record."""
    with auditor.invocation("odd", {"big": 2**100, "path": "caf\udce9.txt", "t": {(1, 2): "tuple key"}}):
        pass
    (record,) = read_records(log_path)
    assert record["params"]["big"] == str(2**100)
    assert record["params"]["path"] == "caf\\udce9.txt"
    assert record["params"]["t"] == {"(1, 2)": "tuple key"}
