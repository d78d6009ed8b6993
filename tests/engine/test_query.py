"""The filter language on valid and invalid input: what each construct selects, and where errors point."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from auditview.core.index import AuditIndex
from auditview.core.parse import SCHEMA as PARSE_SCHEMA
from auditview.core.query import FIELD_NAMES, FilterError, compile_filter, complete, completions, time_range
from auditview.core.slow import SlowStepRule
from auditview.source.discover import discover
from tests.engine.frames import BASE, at, make_frame

RECORDS = [
    {
        "request_id": "d1",
        "trace_id": "t1",
        "tool": "deployctl",
        "command": "deploy",
        "start_ms": 0,
        "duration_ms": 1200,
        "params": {"env": "prod", "replicas": 3, "a.b": "dotted", "nested": {"x": True}},
        "operator": "agent-7",
    },
    {
        "request_id": "v1",
        "trace_id": "t1",
        "tool": "verifyctl",
        "command": "verify",
        "start_ms": 2000,
        "duration_ms": 300,
        "exit_code": 3,
        "ok": False,
        "error_type": "Timeout",
        "error_message": "health check timed out",
        "operator": "agent-7",
    },
    {
        "request_id": "r1",
        "trace_id": "t1",
        "tool": "deployctl",
        "command": "rollback",
        "start_ms": 3000,
        "duration_ms": 70_000,
        "params": {"env": "prod"},
        "operator": "agent-7",
    },
    {
        "request_id": "d2",
        "trace_id": "t2",
        "tool": "deployctl",
        "command": "deploy",
        "start_ms": 10_000,
        "duration_ms": 800,
        "params": {"env": "staging", "replicas": 1, "quote": 'it"s'},
        "operator": "alice",
        "extra": {"team": "payments", "ticket": {"id": 42}},
        "host": None,
    },
    {
        "request_id": "s2",
        "trace_id": "t2",
        "tool": "deployctl",
        "command": "status",
        "start_ms": 11_000,
        "duration_ms": 20,
        "params": {"env": "staging"},
        "operator": "alice",
        "ok": None,
    },
    {
        "request_id": "o1",
        "trace_id": "  ",
        "tool": "dbctl",
        "command": "migrate",
        "start_ms": 12_000,
        "duration_ms": 6_000,
        "exit_code": 1,
        "operator": "bob",
        "error_message": "Lock wait",
    },
]


@pytest.fixture(params=[False, True], ids=["string", "categorical"])
def frame(request: pytest.FixtureRequest) -> pl.DataFrame:
    """The sample records, with the low-cardinality columns as String and as Categorical."""
    return make_frame(RECORDS, categorical=request.param)


def ids(frame: pl.DataFrame, text: str, **kwargs: object) -> list[str]:
    """Request ids selected by ``text``, in frame order."""
    return [str(v) for v in compile_filter(text, **kwargs).apply(frame).get_column("request_id").to_list()]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("command=deploy", ["d1", "d2"]),
        ("command==deploy", ["d1", "d2"]),
        ('command="deploy"', ["d1", "d2"]),
        ("exit_code!=0", ["v1", "o1"]),
        ("exit!=0", ["v1", "o1"]),
        ("exit_code>=1 and exit_code<3", ["o1"]),
        ("params.env=prod", ["d1", "r1"]),
        ("params.replicas>=3", ["d1"]),
        ("params.replicas<3", ["d2"]),
        ("params.replicas=3.0", ["d1"]),
        ('params.replicas="3"', ["d1"]),
        ('params."a.b"=dotted', ["d1"]),
        ("params.nested.x=true", ["d1"]),
        ("params.quote='it\"s'", ["d2"]),
        ("team=payments", ["d2"]),
        ("extra.team=payments", ["d2"]),
        ("ticket.id=42", ["d2"]),
        ("duration_ms>5s", ["r1", "o1"]),
        ("duration>1m", ["r1"]),
        ("duration>1m30s", []),
        ("duration<=300", ["v1", "s2"]),
        ("duration_ms<0.5s", ["v1", "s2"]),
        ("command in (deploy, rollback)", ["d1", "r1", "d2"]),
        ("command not in (deploy, rollback)", ["v1", "s2", "o1"]),
        ("params.replicas in (1, 3)", ["d1", "d2"]),
        ('operator~"agent-.*"', ["d1", "v1", "r1"]),
        ("operator~^a", ["d1", "v1", "r1", "d2", "s2"]),
        ("operator!~agent", ["d2", "s2", "o1"]),
        ("failed", ["v1", "o1"]),
        ("!failed", ["d1", "r1", "d2", "s2"]),
        ("not failed", ["d1", "r1", "d2", "s2"]),
        ("failed=false", ["d1", "r1", "d2", "s2"]),
        ("status=failed", ["v1", "o1"]),
        ("status=ok", ["d1", "r1", "d2", "s2"]),
        ("ok=false", ["v1"]),
        ("ok=null", ["s2"]),
        ("host=null", ["d2"]),
        ("host!=null", ["d1", "v1", "r1", "s2", "o1"]),
        ("error_type=Timeout", ["v1"]),
        ("tool=deployctl command=deploy", ["d1", "d2"]),
        ("tool=deployctl and not command=deploy", ["r1", "s2"]),
        ("command=verify or command=migrate", ["v1", "o1"]),
        ("command=status or command=deploy and operator=alice", ["d2", "s2"]),
        ("(command=status or command=deploy) and operator=alice", ["d2", "s2"]),
        ("(command=status or command=deploy) and params.env=prod", ["d1"]),
        ("not (command=deploy or failed)", ["r1", "s2"]),
        ("NOT failed AND params.env=staging", ["d2", "s2"]),
        ("timed", ["v1"]),
        ("TIMEOUT", ["v1"]),
        ('"lock wait"', ["o1"]),
        ("payments", ["d2"]),
        ("agent-7 rollback", ["r1"]),
        ("trace_id=t2", ["d2", "s2"]),
        ("trace=t2", ["d2", "s2"]),
        ("", ["d1", "v1", "r1", "d2", "s2", "o1"]),
        ("   ", ["d1", "v1", "r1", "d2", "s2", "o1"]),
    ],
)
def test_record_predicates_select_the_expected_records(
    frame: pl.DataFrame, text: str, expected: list[str]
) -> None:
    """Each record-level construct selects exactly the records it describes (String or Categorical)."""
    assert ids(frame, text) == expected


def test_missing_values_never_match_a_comparison_and_not_equal_is_its_negation(frame: pl.DataFrame) -> None:
    """A record without params.replicas fails both `<` and `>=`, and `!=` is exactly `not =`."""
    low = set(ids(frame, "params.replicas<2"))
    high = set(ids(frame, "params.replicas>=2"))
    assert low | high == {"d1", "d2"}
    assert ids(frame, "params.env!=prod") == ids(frame, "not params.env=prod") == ["v1", "d2", "s2", "o1"]


def test_time_comparisons_use_the_when_grammar(frame: pl.DataFrame) -> None:
    """`ts`/`time`/`timestamp` compare with RFC 3339 times (any offset) and dates."""
    assert ids(frame, "ts>=2026-11-20T09:00:10Z") == ["d2", "s2", "o1"]
    assert ids(frame, "time<2026-11-20T10:00:02+01:00") == ["d1"]
    assert ids(frame, 'timestamp>"2026-11-20 09:00:11.5Z"') == ["o1"]
    assert ids(frame, "time>=2026-11-20T00:00Z and time<2026-11-21T00:00Z") == [
        r["request_id"] for r in RECORDS
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trace.failed", ["d1", "v1", "r1", "o1"]),
        ("not trace.failed", ["d2", "s2"]),
        ("trace.has(command=rollback)", ["d1", "v1", "r1"]),
        ("trace.has(command=rollback) and command=deploy", ["d1"]),
        ("not trace.has(command=rollback)", ["d2", "s2", "o1"]),
        ("trace.all(operator=alice)", ["d2", "s2"]),
        ("trace.steps>2", ["d1", "v1", "r1"]),
        ("trace.steps=1", ["o1"]),
        ("trace.duration>1m", ["d1", "v1", "r1"]),
        ("trace.span<2s", ["d2", "s2"]),
        ("trace.failures>=1 and trace.steps>1", ["d1", "v1", "r1"]),
        ("trace.tools=2", ["d1", "v1", "r1"]),
        ("trace.start>=2026-11-20T09:00:05Z", ["d2", "s2", "o1"]),
        ("trace.end>2026-11-20T09:01:00Z", ["d1", "v1", "r1"]),
        ("command=deploy or trace.has(failed and operator=bob)", ["d1", "d2", "o1"]),
    ],
)
def test_trace_predicates_keep_or_drop_whole_traces(
    frame: pl.DataFrame, text: str, expected: list[str]
) -> None:
    """Trace predicates are true for every record of a matching trace; an orphan is a trace of its own."""
    assert ids(frame, text) == expected


def test_trace_predicates_see_the_frame_given_to_apply_not_the_filtered_subset() -> None:
    """`trace.steps` counts the records of the frame passed to apply, so a time range narrows it."""
    frame = make_frame(RECORDS)
    narrowed = time_range(frame, None, at(2500))
    assert [str(v) for v in compile_filter("trace.steps=2").apply(narrowed)["request_id"]] == ["d1", "v1"]


def test_slow_uses_the_rule_or_an_existing_slow_column() -> None:
    """`slow` follows the supplied SlowStepRule, and the frame's own `slow` column when it has one."""
    frame = make_frame(RECORDS)
    assert ids(frame, "slow", slow_rule=SlowStepRule(threshold_ms=1000)) == ["d1", "r1", "o1"]
    assert ids(frame, "slow", slow_rule=SlowStepRule(threshold_ms=10_000)) == ["r1"]
    assert ids(frame, "trace.slow", slow_rule=SlowStepRule(threshold_ms=10_000)) == ["d1", "v1", "r1"]
    marked = frame.with_columns(slow=pl.col("request_id") == "s2")
    assert ids(marked, "slow") == ["s2"]
    assert ids(marked, "trace.slow_steps=1") == ["d2", "s2"]


def test_apply_keeps_columns_order_and_adds_no_helpers() -> None:
    """apply returns the frame's own columns in frame order, whatever helper columns the filter needed."""
    frame = make_frame(RECORDS)
    out = compile_filter("trace.has(slow) or failed").apply(frame)
    assert out.columns == frame.columns
    assert out.get_column("ts").is_sorted()


def test_mask_matches_apply() -> None:
    """mask() is true exactly on the rows apply() keeps."""
    frame = make_frame(RECORDS)
    compiled = compile_filter("trace.failed and not failed")
    assert frame.filter(compiled.mask(frame)).equals(compiled.apply(frame))


def test_flags_say_whether_a_filter_needs_the_whole_frame() -> None:
    """uses_trace and uses_slow report what the filter depends on; an empty filter matches all."""
    assert compile_filter("trace.has(slow)").uses_trace
    assert compile_filter("trace.has(slow)").uses_slow
    assert not compile_filter("command=x failed").uses_trace
    assert compile_filter("").matches_all
    assert not compile_filter("x").matches_all


def test_relative_time_is_resolved_at_compile_time() -> None:
    """`time>1h` keeps only records from the last hour before compilation."""
    frame = make_frame([{"request_id": "old", "start_ms": 0}])
    assert ids(frame, "time>1h") == []
    assert ids(frame, "time<1h") == ["old"]


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("duration_ms>", 12, "expected a value after '>'"),
        (
            "duration_ms>5s and",
            18,
            "expected a field, a word or '(' after 'and' but found the end of the filter",
        ),
        ("command=", 8, "expected a value after '='"),
        ("command=(deploy)", 8, "expected a value after '=' but found '('"),
        ("comand=deploy", 0, "unknown field 'comand'; did you mean 'command'?"),
        ("exit_cod!=0", 0, "unknown field 'exit_cod'; did you mean 'exit_code'?"),
        ("Command=deploy", 0, "unknown field 'Command'; did you mean 'command'?"),
        ("command in deploy", 11, "expected '(' after 'in'"),
        (
            "command in (deploy rollback)",
            19,
            "expected ',' or ')' in the list after 'in' but found 'rollback'",
        ),
        ("command in ()", 12, "expected a value after '(' but found ')'"),
        ("command in (a,)", 14, "expected a value after ',' but found ')'"),
        ("(failed", 7, "expected ')' to close the '(' of column 1, found the end of the filter"),
        ("failed)", 6, "unexpected ')' without a matching '('"),
        ("()", 1, "empty parentheses"),
        ('x="abc', 2, 'unterminated string; expected a closing "'),
        ("and failed", 0, "expected a field, a word or '(' but found 'and'"),
        ("failed or or slow", 10, "expected a field, a word or '(' after 'or' but found 'or'"),
        ("failed=maybe", 7, "expected true or false after '=' but found 'maybe'"),
        ("failed>true", 6, "'>' does not apply to 'failed'"),
        ("status=meh", 7, "expected ok or failed after '=' but found 'meh'"),
        ("exit_code>one", 10, "expected a number after '>' but found 'one'"),
        ("duration>soon", 9, "expected a duration such as 250ms, 5s or 1m30s"),
        ("time>whenever", 5, "expected a time such as"),
        ('operator~"agent-("', 9, "invalid regular expression after '~'"),
        ("trace.bogus>1", 0, "unknown trace field 'trace.bogus'"),
        ("trace.duraton>1m", 0, "unknown trace field 'trace.duraton'; did you mean 'trace.duration'?"),
        ("trace.has command=x", 10, "expected '(' after 'trace.has'"),
        ("trace.has()", 10, "expected a filter inside 'trace.has(...)'"),
        ("trace.has(trace.failed)", 10, "'trace.failed' cannot be used inside trace.has(...)"),
        ("trace.duration", 14, "expected an operator after 'trace.duration'"),
        ("params.=x", 7, "expected a name after '.'"),
        ("params..x=1", 7, "expected a name after '.'"),
        ("a=1 b", -1, ""),
        ("x<null", 2, "'<' cannot compare with null"),
        ("command=deploy)", 14, "unexpected ')'"),
        ("failed ,", 7, "unexpected ','"),
    ],
)
def test_invalid_filters_point_at_the_exact_position(text: str, position: int, message: str) -> None:
    """Each invalid filter raises FilterError at the exact position, saying what was expected."""
    if position < 0:
        compile_filter(text)  # juxtaposition of valid terms is not an error
        return
    with pytest.raises(FilterError) as info:
        compile_filter(text)
    err = info.value
    assert err.position == position
    assert err.message.startswith(message)
    assert str(err).endswith(f"at column {position + 1}")
    assert err.text == text
    assert err.expected


def test_error_renders_a_caret_under_the_input() -> None:
    """render() shows the message, the input and a caret line under the offending span."""
    with pytest.raises(FilterError) as info:
        compile_filter("command=deploy and duration_ms>abc")
    assert info.value.render().splitlines() == [
        "expected a duration such as 250ms, 5s or 1m30s (a bare number means ms) after '>' but found 'abc'"
        " at column 32",
        "command=deploy and duration_ms>abc",
        " " * 31 + "^^^",
    ]


def test_the_example_from_the_brief() -> None:
    """A missing value after `>` is reported at the column right after the operator."""
    with pytest.raises(FilterError, match=r"^expected a value after '>' at column 13$"):
        compile_filter("duration_ms>")


def test_typos_carry_a_suggestion_and_extra_prefix_escapes_the_check() -> None:
    """A near-miss of a known field is flagged with a suggestion; `extra.` looks the name up anyway."""
    with pytest.raises(FilterError) as info:
        compile_filter("operater=bob")
    assert info.value.suggestion == "operator"
    frame = make_frame([{"request_id": "x", "extra": {"operater": "bob"}}])
    assert ids(frame, "extra.operater=bob") == ["x"]


def test_unknown_non_typo_fields_are_looked_up_in_extra() -> None:
    """A name unlike any known field is an extra field, not an error."""
    frame = make_frame([{"request_id": "x", "extra": {"deploy_window": "night"}}, {"request_id": "y"}])
    assert ids(frame, "deploy_window=night") == ["x"]
    assert ids(frame, "deploy_window!=night") == ["y"]


def test_nesting_depth_is_bounded() -> None:
    """Absurdly deep parentheses are a FilterError, not a RecursionError."""
    with pytest.raises(FilterError, match="nested deeper"):
        compile_filter("(" * 500 + "x" + ")" * 500)


def test_escapes_in_strings() -> None:
    """Quoted strings understand \\" \\' \\\\ \\n \\t and keep other backslashes (for regexes)."""
    frame = make_frame(
        [
            {"request_id": "q", "error_message": 'say "hi"\tnow'},
            {"request_id": "d", "error_message": "v1.2 3"},
        ]
    )
    assert ids(frame, r'error_message="say \"hi\"\tnow"') == ["q"]
    assert ids(frame, r"error_message~'v\d\.\d \d'") == ["d"]


def test_time_range_is_inclusive_and_optional() -> None:
    """time_range keeps since <= ts <= until; None leaves that side open."""
    frame = make_frame(RECORDS)
    assert time_range(frame, None, None) is frame
    assert time_range(frame, at(2000), at(10_000))["request_id"].to_list() == ["v1", "r1", "d2"]
    assert time_range(frame, BASE + timedelta(seconds=11), None)["request_id"].to_list() == ["s2", "o1"]


def test_field_names_are_complete_and_documented_aliases_exist() -> None:
    """FIELD_NAMES offers the columns, the aliases users expect and the trace fields."""
    for name in ("command", "duration", "time", "timestamp", "exit", "status", "failed", "slow", "params."):
        assert name in FIELD_NAMES
    assert "trace.has" in FIELD_NAMES
    assert "trace.duration" in FIELD_NAMES


def test_completion_of_field_names_and_values() -> None:
    """complete() offers field names at a field position and frequent values after an operator."""
    frame = make_frame(RECORDS, categorical=True)
    assert complete("com", 3, frame) == ["command"]
    assert complete("failed and dur", 14, frame) == ["duration_ms", "duration"]
    assert complete("command=", 8, frame)[:1] == ["deploy"]
    assert sorted(complete("command=", 8, frame)) == ["deploy", "migrate", "rollback", "status", "verify"]
    assert complete("command=ro", 10, frame) == ["rollback"]
    assert complete("command in (deploy, ro", 22, frame) == ["rollback"]
    assert complete("params.", 7, frame) == [
        "params.env",
        "params.replicas",
        'params."a.b"',
        "params.nested",
        "params.quote",
    ]
    assert complete("params.env=", 11, frame) == ["prod", "staging"]
    assert complete("failed=", 7, frame) == ["true", "false"]
    assert complete("status=f", 8, frame) == ["failed"]
    assert complete("trace.d", 7, frame) == ["trace.duration"]
    assert complete("", 0, frame)[:3] == list(FIELD_NAMES[:3])


def test_completion_span_and_quoting() -> None:
    """completions() says which span to replace, and quotes values that need it."""
    frame = make_frame([{"error_message": "health check timed out"}, {"error_message": "x"}])
    result = completions("failed and error_message=he", 27, frame)
    assert (result.start, result.end, result.kind) == (25, 27, "value")
    assert result.candidates == ['"health check timed out"']
    assert completions("command=deploy and ", 19, frame).kind == "field"


@pytest.mark.parametrize("text", ['x="unterminated', "((", "a in (", "params.", ")", "trace.has(", "!", "~"])
def test_completion_never_raises_on_broken_text(text: str) -> None:
    """complete() tolerates incomplete or invalid filter text at every cursor position."""
    frame = make_frame(RECORDS)
    for cursor in range(len(text) + 1):
        assert isinstance(complete(text, cursor, frame), list)


def test_engine_modules_import_no_ui_library() -> None:
    """Importing query, slow, traces, timeline and stats loads no textual, rich or click."""
    code = (
        "import sys, json\n"
        "import auditview.core.query, auditview.core.slow, auditview.core.traces\n"
        "import auditview.core.timeline, auditview.core.stats\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = {name.split(".")[0] for name in json.loads(out)}
    assert not loaded & {"textual", "rich", "click"}


def test_free_text_folds_case_beyond_ascii_and_empty_text_matches_all() -> None:
    """Non-ASCII free text is case-insensitive too, and `""` matches every record."""
    frame = make_frame([{"request_id": "u", "error_message": "Überlauf im Puffer"}, {"request_id": "v"}])
    assert ids(frame, "überlauf") == ["u"]
    assert ids(frame, '"PUFFER"') == ["u"]
    assert ids(frame, '""') == ["u", "v"]


def test_orphans_are_single_step_traces_even_when_several_share_an_empty_id() -> None:
    """Two orphans with the same empty trace id do not form a trace together."""
    frame = make_frame(
        [
            {"request_id": "a", "trace_id": "", "exit_code": 1},
            {"request_id": "b", "trace_id": ""},
            {"request_id": "c", "trace_id": "  ", "start_ms": 5, "duration_ms": 70_000},
        ]
    )
    assert ids(frame, "trace.failed") == ["a"]
    assert ids(frame, "trace.steps=1") == ["a", "b", "c"]
    assert ids(frame, "trace.duration>1m") == ["c"]
    assert ids(frame, "trace.has(failed)") == ["a"]


STAGED_TEXTS = [
    '{"env":"prod"}',
    '{"env": "prod"}',
    '{"env" :"prod"}',
    '{"env":\t"prod"}',
    '{"\\u0065nv":"prod"}',
    '{"env":"pr\\u006fd"}',
    '{"a":{"env":"prod"}}',
    '{"a":[{"env":"prod"}]}',
    '{"a":[1,{"env":"prod"}]}',
    '{"env":"staging","env":"prod"}',
    '{"env":"prod","env":"staging"}',
    '{"x":"\\"env\\":\\"prod\\""}',
    '{"x":"env","y":"prod"}',
    '{"env":"production"}',
    '{"env":["prod"]}',
    '{"env":null}',
    "{}",
    '{"env":3}',
    '{"env":"3"}',
    '{"env":3.0}',
    '{"env":true}',
    '{"env":""}',
    '{"db":{"name":"orders"}}',
    '{"hosts":["web-1","web-2"]}',
    '{"a":"b",",":"x"}',
    '{"k":"env","env":"prod"}',
    '{"replicas":5}',
    '{"replicas":"5"}',
    '{"replicas":5.0}',
    '{"replicas":1e1}',
    '{"replicas":-3}',
    '{"replicas": 7 }',
    '{"replicas":12345678901234567890}',
    '{"replicas":null}',
    '{"replicas":[5]}',
    '{"replicas":true}',
    '{"replicas":5,"replicas":1}',
    '{"a":{"replicas":9}}',
]

STAGED_FILTERS = [
    "params.env=prod",
    "params.env!=prod",
    'params.env="3"',
    "params.env=3",
    "params.env=null",
    "params.env!=null",
    'params.env=""',
    "params.env=true",
    'params.env="true"',
    "params.env~pro",
    "params.env!~^prod$",
    "params.env in (prod, null)",
    "params.env not in (prod, 3)",
    "params.db.name=orders",
    "params.hosts.0=web-1",
    "params.replicas>=5",
    "params.replicas=5",
    "params.replicas!=5",
    "params.replicas<0",
    "params.replicas=null",
    "params.replicas!=null",
    "params.replicas in (5, 7)",
    "params.a.replicas>1",
    'params.","=x',
    "extra.env=prod",
    "prod",
    "PROD",
    "env",
]


@pytest.mark.parametrize("text", STAGED_FILTERS)
@pytest.mark.parametrize("categorical", [False, True])
def test_staged_evaluation_equals_the_plain_expression(text: str, categorical: bool) -> None:
    """JSON look-ups and free text computed in stages select exactly what the single expression selects."""
    frame = make_frame(
        [{"request_id": f"r{i}", "params": params} for i, params in enumerate(STAGED_TEXTS)],
        categorical=categorical,
    )
    compiled = compile_filter(text)
    plain = (
        compiled.prepare(frame.lazy(), frame.schema)
        .select(compiled.predicate(frame.schema).alias("m"))
        .collect()
        .to_series()
    )
    assert compiled.mask(frame).to_list() == plain.to_list()


def test_staged_pair_matching_is_exact_on_tricky_texts() -> None:
    """params.env=prod matches escaped and spaced forms and one duplicate-key value, never nested keys."""
    frame = make_frame([{"request_id": f"r{i}", "params": params} for i, params in enumerate(STAGED_TEXTS)])
    got = set(compile_filter("params.env=prod").apply(frame)["request_id"])
    expected = {f"r{STAGED_TEXTS.index(text)}" for text in [*STAGED_TEXTS[:6], '{"k":"env","env":"prod"}']}
    dup = {"r9", "r10"} & got
    assert got - dup == expected
    assert len(dup) == 1


@pytest.mark.parametrize(
    "text",
    [
        "trace.failed",
        "not trace.failed",
        "trace.slow",
        "trace.slow_steps>=1",
        "trace.steps>2",
        "trace.steps!=2",
        "trace.failures=0",
        "trace.tools>1",
        "trace.duration>1m",
        "trace.start<2026-11-20T09:00:05Z",
        "trace.end>=2026-11-20T09:01:00Z",
        "trace.has(command=rollback) or trace.all(operator=alice)",
        "not trace.has(params.env=prod) and trace.steps<3",
    ],
)
def test_trace_predicates_by_id_sets_equal_the_window_expressions(text: str) -> None:
    """Trace predicates decided per trace and joined back by id select what the window expressions select."""
    frame = make_frame(RECORDS, categorical=True)
    compiled = compile_filter(text)
    plain = (
        compiled.prepare(frame.lazy(), frame.schema)
        .select(compiled.predicate(frame.schema).alias("m"))
        .collect()
        .to_series()
    )
    assert compiled.mask(frame).to_list() == plain.to_list()
    assert 0 < plain.sum() < frame.height or text in ("trace.slow", "trace.slow_steps>=1")


SAMPLE_LOGS = Path(__file__).resolve().parents[2] / "sample_logs"


def test_contract_extras_on_real_index() -> None:
    """On an index of the sample logs, pid>0, schema_version=1 and truncated=false match records."""
    index = AuditIndex.load(discover([str(SAMPLE_LOGS)]))
    frame = index.frame
    assert frame.height > 0
    assert {"pid", "schema_version", "truncated"} <= set(PARSE_SCHEMA)
    assert compile_filter("pid>0").apply(frame).height > 0
    assert compile_filter("schema_version=1").apply(frame).height > 0
    assert compile_filter("pid=null or pid>0").apply(frame).height == frame.height
    assert compile_filter("host!=null").apply(frame).height > 0


def test_contract_extras_read_their_column_or_extra() -> None:
    """pid/truncated come from their own column when the frame has one, otherwise from the extra fields."""
    from_extra = make_frame([{"extra": {"pid": 42, "truncated": True}}, {"extra": None}])
    assert compile_filter("pid>0").mask(from_extra).to_list() == [True, False]
    assert compile_filter("truncated=true").mask(from_extra).to_list() == [True, False]
    with_column = from_extra.with_columns(pid=pl.Series([None, 7], dtype=pl.Int64))
    assert compile_filter("pid>0").mask(with_column).to_list() == [False, True]
    assert compile_filter("pid>0").columns == {"pid", "extra"}
