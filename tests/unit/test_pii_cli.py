from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from haven.triage.pii.cli import MAX_LINE_CHARS, pii_app

runner = CliRunner()
DATA = Path(__file__).parents[2] / "data" / "pii"


def detect(stdin: bytes, *args: str) -> list[str]:
    result = runner.invoke(pii_app, ["detect", *args], input=stdin)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_one_compact_json_object_per_line() -> None:
    lines = detect(b"4111111111111111\ncall 07911 123456 or jane@example.com\n")
    assert lines == [
        '{"spans":[{"type":"CREDIT_CARD","start":0,"end":16}]}',
        '{"spans":[{"type":"PHONE_NUMBER","start":5,"end":17},{"type":"EMAIL_ADDRESS","start":21,"end":37}]}',
    ]


def test_empty_lines_and_text_without_private_data() -> None:
    assert detect(b"\n\nhello @HSBC_UK\n") == ['{"spans":[]}'] * 3


def test_a_last_line_without_a_line_break_and_crlf_line_ends() -> None:
    assert detect(b"ssn 123-45-6789\r\n07911 123456") == [
        '{"spans":[{"type":"US_SSN","start":4,"end":15}]}',
        '{"spans":[{"type":"PHONE_NUMBER","start":0,"end":12}]}',
    ]


def test_offsets_count_characters_not_bytes() -> None:
    [line] = detect("😡😡 4111 1111 1111 1111\n".encode())
    assert json.loads(line) == {"spans": [{"type": "CREDIT_CARD", "start": 3, "end": 22}]}


def test_invalid_utf8_gets_an_error_and_the_next_line_is_read() -> None:
    lines = detect(b"\xff\xfe 4111111111111111\n\xc3\n4111111111111111\n")
    assert [json.loads(line) for line in lines] == [
        {"spans": [], "error": "line is not valid UTF-8"},
        {"spans": [], "error": "line is not valid UTF-8"},
        {"spans": [{"type": "CREDIT_CARD", "start": 0, "end": 16}]},
    ]


def test_an_oversized_line_gets_an_error_and_the_next_line_is_read() -> None:
    oversized = b"4" * (4 * MAX_LINE_CHARS + 10)
    too_many_chars = "é".encode() * (MAX_LINE_CHARS + 1)
    lines = detect(oversized + b"\n" + too_many_chars + b"\n4111111111111111\n" + oversized)
    error = {"spans": [], "error": f"line longer than {MAX_LINE_CHARS} characters"}
    assert [json.loads(line) for line in lines] == [
        error,
        error,
        {"spans": [{"type": "CREDIT_CARD", "start": 0, "end": 16}]},
        error,
    ]


def test_a_line_of_exactly_the_limit_is_read() -> None:
    [line] = detect(b"4111111111111111 " + b"x" * (MAX_LINE_CHARS - 17) + b"\n")
    assert json.loads(line) == {"spans": [{"type": "CREDIT_CARD", "start": 0, "end": 16}]}


def test_control_characters_and_bidi_overrides() -> None:
    lines = detect("\x00\x1b[0m \u202e4111 1111 1111 1111\u202c\x7f\n".encode())
    assert json.loads(lines[0]) == {"spans": [{"type": "CREDIT_CARD", "start": 7, "end": 26}]}


def test_the_region_option() -> None:
    text = b"ruf an: 089 12345678\n"
    assert detect(text) == ['{"spans":[]}']
    assert detect(text, "--region", "de") == ['{"spans":[{"type":"PHONE_NUMBER","start":8,"end":20}]}']


def test_an_unknown_region_is_a_usage_error() -> None:
    result = runner.invoke(pii_app, ["detect", "--region", "XX"], input=b"")
    assert result.exit_code == 2
    assert "no region" in result.output


def test_evaluate_prints_each_type_and_the_overall_figures_last() -> None:
    result = runner.invoke(pii_app, ["evaluate", "--data", str(DATA / "tweets.jsonl")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [
        "CREDIT_CARD",
        "IBAN_CODE",
        "BANK_ACCOUNT",
        "US_SSN",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "overall",
    ]
    assert re.fullmatch(
        r"overall +tp=\d+ +fp=\d+ +fn=\d+ +precision=[01]\.\d{4} recall=[01]\.\d{4} texts=\d+ set_aside=0",
        lines[-1],
    )


def test_evaluate_can_count_invalid_labels(tmp_path: Path) -> None:
    data = tmp_path / "labels.jsonl"
    data.write_text(
        json.dumps(
            {
                "text": "call +1-984-182-0190",
                "spans": [{"type": "PHONE_NUMBER", "start": 5, "end": 20, "invalid": True}],
            }
        )
        + "\n"
    )
    set_aside = runner.invoke(pii_app, ["evaluate", "--data", str(data)]).stdout.splitlines()[-1]
    counted = runner.invoke(
        pii_app, ["evaluate", "--data", str(data), "--count-invalid"]
    ).stdout.splitlines()[-1]
    assert "fn=0 " in set_aside and "set_aside=1" in set_aside
    assert "fn=1 " in counted and "set_aside=0" in counted


def test_evaluate_names_a_malformed_line(tmp_path: Path) -> None:
    data = tmp_path / "labels.jsonl"
    data.write_text('{"text": "a", "spans": []}\n\n{"text": "b"}\n')
    result = runner.invoke(pii_app, ["evaluate", "--data", str(data)])
    assert result.exit_code == 1
    assert "line 3: not a labelled text" in result.stderr


def test_evaluate_refuses_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(pii_app, ["evaluate", "--data", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2


def test_runnable_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "haven.triage.pii", "detect"],
        input=b"card 4111 1111 1111 1111\n\xff\n",
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.decode().splitlines() == [
        '{"spans":[{"type":"CREDIT_CARD","start":5,"end":24}]}',
        '{"spans":[],"error":"line is not valid UTF-8"}',
    ]
