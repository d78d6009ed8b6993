"""Secrets by shape, in free text, in error messages, annotations and bytes: canaries never reach the log.

Each case plants a unique fake secret (a canary) where the issue found one written in clear, and asserts that
the canary's bytes are absent from the log file and that ``[REDACTED]`` stands in its place.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from auditview.contract import check_record
from auditview.writer import REDACTED, Auditor, Redactor

from .conftest import read_records

_REPO = Path(__file__).resolve().parents[2]

# Fake secrets in the well-known token shapes (none of them is a real credential).
_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJjYW5hcnktand0LXN1YmplY3QiLCJuYW1lIjoiQ2FuYXJ5In0"
    ".c2lnbmF0dXJlQ2FuYXJ5Snd0U2lnbmF0dXJlMDAx"
)
_PEM_BODY = "MIIEcanaryPEMbodyQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\nY2FuYXJ5cGVtYm9keXNlY29uZGxpbmUwMDAw"
_SHAPES: dict[str, tuple[str, str]] = {
    # name: (the text planted, the canary that must vanish)
    "bearer": ("Bearer CanaryBearer0123456789abcdef", "CanaryBearer0123456789abcdef"),
    "bearer-lowercase": ("bearer canary.bearer-lower_0123~+/==", "canary.bearer-lower_0123~+/=="),
    "aws-akia": ("AKIACANARY0AKIA00001", "AKIACANARY0AKIA00001"),
    "aws-asia": ("ASIACANARY0ASIA00002", "ASIACANARY0ASIA00002"),
    "github-ghp": ("ghp_canaryGhp0123456789abcdefghijklmnopq", "ghp_canaryGhp0123456789abcdefghijklmnopq"),
    "github-gho": ("gho_canaryGho0123456789abcdefghijklmnopq", "gho_canaryGho0123456789abcdefghijklmnopq"),
    "github-ghs": ("ghs_canaryGhs0123456789abcdefghijklmnopq", "ghs_canaryGhs0123456789abcdefghijklmnopq"),
    "github-ghu": ("ghu_canaryGhu0123456789abcdefghijklmnopq", "ghu_canaryGhu0123456789abcdefghijklmnopq"),
    "github-pat": (
        "github_pat_11CANARY0_canaryFineGrained0123456789abcdefABCDEF",
        "github_pat_11CANARY0_canaryFineGrained0123456789abcdefABCDEF",
    ),
    "gitlab-glpat": ("glpat-canaryGitlab0123456789", "glpat-canaryGitlab0123456789"),
    "slack-xoxb": ("xoxb-0000000000-canarySlackBot0123", "xoxb-0000000000-canarySlackBot0123"),
    "slack-xoxp": ("xoxp-1111111111-canarySlackUser456", "xoxp-1111111111-canarySlackUser456"),
    "jwt": (_JWT, "c2lnbmF0dXJlQ2FuYXJ5Snd0U2lnbmF0dXJlMDAx"),
    "private-key": (
        f"-----BEGIN RSA PRIVATE KEY-----\n{_PEM_BODY}\n-----END RSA PRIVATE KEY-----",
        "MIIEcanaryPEMbodyQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB",
    ),
    "private-key-openssh": (
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{_PEM_BODY}\n-----END OPENSSH PRIVATE KEY-----",
        "Y2FuYXJ5cGVtYm9keXNlY29uZGxpbmUwMDAw",
    ),
}


def _assert_redacted(log_path: Path, *canaries: str) -> dict[str, Any]:
    raw = log_path.read_bytes()
    for canary in canaries:
        assert canary.encode() not in raw, f"{canary!r} was written in clear"
    assert REDACTED.encode() in raw
    (record,) = read_records(log_path)
    check_record(record)
    return record


@pytest.mark.parametrize("shape", sorted(_SHAPES))
def test_token_shapes_are_redacted_in_any_value(auditor: Auditor, log_path: Path, shape: str) -> None:
    """A well-known token shape is redacted under an innocent key, inside free text, in a list, as bytes."""
    planted, canary = _SHAPES[shape]
    params = {
        "value": planted,
        "note": f"the step used {planted} and went on",
        "argv": ["deploy", planted],
        "raw": f"x {planted} y".encode(),
    }
    with auditor.invocation("shape", params):
        pass
    record = _assert_redacted(log_path, canary)
    assert record["params"]["note"].startswith("the step used ")
    assert record["params"]["note"].endswith(" and went on")
    assert record["params"]["argv"][0] == "deploy"


@pytest.mark.parametrize("shape", ["bearer", "aws-akia", "github-ghp", "jwt", "private-key", "slack-xoxb"])
def test_token_shapes_are_redacted_in_error_messages_and_annotations(
    auditor: Auditor, log_path: Path, shape: str
) -> None:
    """The same shapes are redacted in an exception's message and in annotate() fields."""
    planted, canary = _SHAPES[shape]
    with auditor.invocation("fail") as inv:
        inv.annotate(upstream={"reply": f"got {planted}"}, summary=f"used {planted}")
        inv.fail(f"upstream refused {planted}", error_type="RuntimeError")
    record = _assert_redacted(log_path, canary)
    assert record["error"]["message"].startswith("upstream refused ")
    assert REDACTED in record["summary"]
    assert REDACTED in record["upstream"]["reply"]


def test_long_secret_flag_string_is_redacted(auditor: Auditor, log_path: Path) -> None:
    """--token=<a long JWT> as one argv string is redacted however long it is (it used to stop at 4,096)."""
    payload = "eyJ" + "Q" * 6000
    token = f"eyJhbGciOiJub25lIn0.{payload}.c2lnLWxvbmctY2FuYXJ5"
    params = {"argv": ["login", f"--token={token}"], "text": f"x {'y' * 5000} --password=longCanary77 z"}
    with auditor.invocation("login", params):
        pass
    record = _assert_redacted(log_path, "c2lnLWxvbmctY2FuYXJ5", "longCanary77", "QQQQQQQQ")
    assert record["params"]["argv"] == ["login", f"--token={REDACTED}"]
    assert record["params"]["text"].endswith(f"--password={REDACTED} z")


def test_authorization_header_inside_a_curl_command_line(auditor: Auditor, log_path: Path) -> None:
    """'Authorization: Bearer …' and 'Authorization: Basic …' inside a string are redacted, scheme kept."""
    command = (
        'curl -sS -H "Authorization: Bearer curlCanaryToken123" -H "X-Trace: 1" https://api.example.com/v1; '
        "curl -H 'Authorization: Basic Y3VybENhbmFyeUJhc2lj' https://example.com"
    )
    argv = ["curl", "-H", "Authorization: Bearer argvCanaryToken4", "https://api.example.com"]
    with auditor.invocation("fetch", {"cmd": command, "argv": argv}):
        pass
    record = _assert_redacted(log_path, "curlCanaryToken123", "Y3VybENhbmFyeUJhc2lj", "argvCanaryToken4")
    assert record["params"]["argv"][2] == f"Authorization: Bearer {REDACTED}"
    cmd = record["params"]["cmd"]
    assert f"Authorization: Bearer {REDACTED}" in cmd
    assert f"Authorization: Basic {REDACTED}" in cmd
    assert "https://api.example.com/v1" in cmd
    assert '"X-Trace: 1"' in cmd


def test_secret_flag_and_value_in_one_string(auditor: Auditor, log_path: Path) -> None:
    """'--db-password X' given as one string (or inside a command line) has X redacted."""
    params = {
        "arg": "--db-password flagCanary01",
        "cmdline": "mysqldump --host db --db-password 'flag Canary02' --api-key=flagCanary03 app",
    }
    with auditor.invocation("dump", params):
        pass
    record = _assert_redacted(log_path, "flagCanary01", "Canary02", "flagCanary03")
    assert record["params"]["arg"] == f"--db-password {REDACTED}"
    assert record["params"]["cmdline"] == (
        f"mysqldump --host db --db-password '{REDACTED}' --api-key={REDACTED} app"
    )


def test_password_inside_an_exception_message(auditor: Auditor, log_path: Path) -> None:
    """'password=…' (and JSON/repr-style keys) inside an exception message are redacted; the rest stays."""
    with pytest.raises(ConnectionError), auditor.invocation("connect"):
        raise ConnectionError(
            "cannot connect: host=db.internal user=app password=excCanary01 sslmode=require; "
            "config {'db_password': 'exc Canary02', \"token\": \"excCanary03\"}"
        )
    record = _assert_redacted(log_path, "excCanary01", "Canary02", "excCanary03")
    message = record["error"]["message"]
    assert message.startswith(
        f"cannot connect: host=db.internal user=app password={REDACTED} sslmode=require"
    )
    assert f"'db_password': '{REDACTED}'" in message
    assert f'"token": "{REDACTED}"' in message


def test_fail_message_is_redacted(auditor: Auditor, log_path: Path) -> None:
    """inv.fail() messages go through the same redaction as exception messages."""
    with auditor.invocation("fail") as inv:
        inv.fail("login rejected for secret=failCanary01")
    _assert_redacted(log_path, "failCanary01")


def test_annotations_are_redacted(auditor: Auditor, log_path: Path) -> None:
    """inv.annotate(password=…) and secrets nested in annotations are redacted; plain annotations stay."""
    with auditor.invocation("annotate") as inv:
        inv.annotate(
            password="annCanary01",
            db={"url": "postgres://app:annCanary02@db/app", "client_secret": "annCanary03"},
            result="ok",
        )
    record = _assert_redacted(log_path, "annCanary01", "annCanary02", "annCanary03")
    assert record["password"] == REDACTED
    assert record["db"] == {"url": f"postgres://app:{REDACTED}@db/app", "client_secret": REDACTED}
    assert record["result"] == "ok"


def test_extra_processor_fields_are_redacted(log_path: Path) -> None:
    """A field added by a tool's own processor is redacted like an annotation."""

    def add_env(inv: Any, record: dict[str, Any]) -> dict[str, Any]:
        record["env"] = {"AWS_SECRET_ACCESS_KEY": "procCanary01", "PATH": "/usr/bin"}
        return record

    auditor = Auditor("wtest", "1", log_path=log_path, extra_processors=[add_env])
    with auditor.invocation("x"):
        pass
    record = _assert_redacted(log_path, "procCanary01")
    assert record["env"] == {"AWS_SECRET_ACCESS_KEY": REDACTED, "PATH": "/usr/bin"}


def test_secrets_under_innocent_keys_and_in_keys(auditor: Auditor, log_path: Path) -> None:
    """A secret under a key that does not look secret, or in a key itself, is found by its shape or form."""
    params = {
        "env": {"AWS_ACCESS_KEY_ID": "AKIAKEYCANARY0000001", "LOG_LEVEL": "debug"},
        "dsn": "host=db dbname=app password=keyCanary02",
        "headers": {"X-Custom": "Bearer keyCanary03"},
        "--password=keyCanary04": True,
    }
    with auditor.invocation("x", params):
        pass
    record = _assert_redacted(log_path, "AKIAKEYCANARY0000001", "keyCanary02", "keyCanary03", "keyCanary04")
    assert record["params"]["env"] == {"AWS_ACCESS_KEY_ID": REDACTED, "LOG_LEVEL": "debug"}
    assert record["params"][f"--password={REDACTED}"] == REDACTED  # the key is secret-looking too


def test_bytes_and_objects_are_redacted(auditor: Auditor, log_path: Path) -> None:
    """bytes, bytearray, dataclasses and objects written through str() are redacted too."""

    @dataclasses.dataclass
    class Creds:
        user: str
        password: str

    class Url:
        def __str__(self) -> str:
            return "https://bob:objCanary04@example.com/"

    params = {
        "raw": b"--password=objCanary01",
        "buf": bytearray(b"token: objCanary02"),
        "creds": Creds("bob", "objCanary03"),
        "url": Url(),
    }
    with auditor.invocation("x", params):
        pass
    record = _assert_redacted(log_path, "objCanary01", "objCanary02", "objCanary03", "objCanary04")
    assert record["params"]["raw"] == f"--password={REDACTED}"
    assert record["params"]["creds"] == {"user": "bob", "password": REDACTED}
    assert record["params"]["url"] == f"https://bob:{REDACTED}@example.com/"


def test_tool_keys_apply_inside_strings(log_path: Path) -> None:
    """A tool's own key patterns (redact_keys) also apply to name=value forms inside strings."""
    auditor = Auditor("wtest", "1", log_path=log_path, redact_keys=["ssn"])
    with auditor.invocation("x", {"q": "lookup customer_ssn=123-45-6789 now"}):
        pass
    record = _assert_redacted(log_path, "123-45-6789")
    assert record["params"]["q"] == f"lookup customer_ssn={REDACTED} now"


def test_plain_text_is_left_alone() -> None:
    """Ordinary values (no secret word before = or :, no token shape) come back unchanged."""
    data = {
        "msg": "deployed 3 services in 12:30 minutes; see https://example.com/a?b=c",
        "words": "tokenize the input, then compare ghp_ and AKIA prefixes",
        "argv": ["--env", "prod", "--dry-run", "--replicas=3"],
        "time": "2024-01-01T00:00:00Z",
        "path": "/var/lib/app/secrets.d",
    }
    assert Redactor()(data) == data


_ADVERSARIAL = r"""
import time
from auditview.writer import Redactor
r = Redactor(extra_keys=["ssn"])
n = 1_000_000
cases = {
    "run": "a" * n,
    "keyword-run": "password" * (n // 8),
    "flags": "--password " * (n // 11),
    "names": "password " * (n // 9),
    "pairs": "token x=" + " x=" * (n // 3),
    "jwt-ish": "eyJ" * (n // 3),
    "jwt-dots": "eyJa." * (n // 5),
    "ghp": "ghp_" * (n // 4),
    "github-pat": "github_pat_" * (n // 11),
    "gitlab": "glpat-" * (n // 6),
    "slack": "xoxb-" * (n // 5),
    "bearer": "Bearer " * (n // 7),
    "akia": "AKIA" * (n // 4),
    "pem": "-----BEGIN RSA PRIVATE KEY-----" * (n // 31),
    "scheme": "a" * n + "://x",
    "userinfo": "https://" + "a:" * (n // 2),
    "quote": 'password="' + "\\" * n,
    "whole": "--token=" + "y" * n,
}
start = time.monotonic()
for name, text in cases.items():
    out = r({"v": text})["v"]
    assert isinstance(out, str), name
elapsed = time.monotonic() - start
print(f"{elapsed:.2f}")
"""


def test_redaction_does_not_depend_on_length_and_stays_linear() -> None:
    """1 MB adversarial strings (long runs, repeated keywords and prefixes) are all redacted and finish.

    Run in a child with a generous timeout, so a pattern that went quadratic fails instead of hanging.
    """
    result = subprocess.run(
        [sys.executable, "-c", _ADVERSARIAL],
        cwd=_REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    big = "z" * 1_000_000
    redacted = Redactor()({"v": f"{big} --password=bigCanary01 {big} ghp_{'B' * 36} {big}"})["v"]
    assert "bigCanary01" not in redacted
    assert "B" * 36 not in redacted
    assert redacted.count(REDACTED) == 2
