"""``haven triage train`` and ``eval`` through typer's test runner, good input and bad."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from haven.triage.intent import EmbeddingsUnavailable, save_model, training
from haven.triage.intent import cli as intent_cli
from haven.triage.intent.cli import triage_app
from haven.triage.intent.data import MAX_TEXT_CHARS
from haven.triage.intent.store import MODEL_FILE
from tests.unit.intent_support import TINY_OUT_OF_SCOPE, fast_model, tiny_rows, write_csv

runner = CliRunner()
LAST_LINE = re.compile(r"accuracy=(0|1)\.\d{4}")


def run(*args: str | Path) -> Result:
    return runner.invoke(triage_app, [str(arg) for arg in args])


def assert_refused(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "Error:" in result.stderr and message in " ".join(result.stderr.split())


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("models")
    save_model(fast_model(), directory)
    return directory


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    return write_csv(tmp_path / "tiny.csv", tiny_rows()), write_csv(tmp_path / "oos.csv", TINY_OUT_OF_SCOPE)


def test_train_saves_a_version_and_reports_it(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    data, out_of_scope = tiny
    result = run("train", "--data", data, "--out-of-scope", out_of_scope, "--out", tmp_path / "models")
    assert result.exit_code == 0, result.output
    version = re.search(r"Model (fast-\d{8}T\d{6}-[0-9a-f]{6}) trained", result.stdout)
    assert version is not None
    assert re.search(r"Held-out top-1 accuracy: \d\.\d{4} \(6 in-scope posts\)", result.stdout)
    assert f"Saved to {tmp_path / 'models' / version.group(1)}" in result.stdout
    assert (tmp_path / "models" / version.group(1) / MODEL_FILE).is_file()


def test_train_all_has_no_held_out_part(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    data, out_of_scope = tiny
    result = run("train", "--all", "--data", data, "--out-of-scope", out_of_scope, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "Trained on all rows" in result.stdout and "Held-out" not in result.stdout


def test_eval_prints_figures_and_ends_with_the_accuracy(models_dir: Path, tmp_path: Path) -> None:
    rows = [*tiny_rows(per=3), *TINY_OUT_OF_SCOPE[:3]]
    result = run("eval", "--data", write_csv(tmp_path / "eval.csv", rows), "--models", models_dir)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert LAST_LINE.fullmatch(lines[-1])
    assert lines[0] == f"Model: {fast_model().name}"
    assert "Rows: 12 (9 in scope, 3 out of scope)" in lines
    assert any(line.startswith("Macro-F1: ") for line in lines)
    assert any(line.startswith("Out-of-scope recall (rejected): ") for line in lines)
    assert any(line.startswith("Most confused pairs") for line in lines)


def test_eval_without_a_model_trains_one_first(
    tmp_path: Path, tiny: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, out_of_scope = tiny
    monkeypatch.setattr(intent_cli, "DEFAULT_TRAIN_CSV", data)
    monkeypatch.setattr(intent_cli, "DEFAULT_OUT_OF_SCOPE_CSV", out_of_scope)
    result = run("eval", "--data", data, "--models", tmp_path / "models")
    assert result.exit_code == 0, result.output
    assert "No saved fast model" in result.stderr and "Saved to" in result.stderr
    assert LAST_LINE.fullmatch(result.stdout.splitlines()[-1])
    assert len(list((tmp_path / "models").iterdir())) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "needs the columns text,category"),
        (b"text,category\n", "no rows"),
        (b"tweet,label\nhi,card_arrival\n", "missing text, category"),
        (b"text,category\ncaf\xe9 card,card_arrival\n", "not UTF-8"),
        (
            b"text,category\nwhere is my card,card_arrivals\nhi,thanks\n",
            "2 unknown categories: 'card_arrivals'",
        ),
        (b"text,category\n" + b"y" * (MAX_TEXT_CHARS + 1) + b",card_arrival\n", "the limit is 5,000"),
        (b'text,category\n"' + b"z" * 300_000 + b'",card_arrival\n', "not valid CSV"),
        (b'text,category\n"unterminated,card_arrival\n', "line 2: the row has too few fields"),
        (b"\x00\x01\x02binary\xff\xfe", "not UTF-8"),
    ],
)
def test_eval_refuses_bad_csvs_clearly(
    models_dir: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    assert_refused(run("eval", "--data", path, "--models", models_dir), message)


def test_train_refuses_bad_data_clearly(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    _, out_of_scope = tiny
    assert_refused(run("train", "--data", tmp_path / "missing.csv", "--out", tmp_path), "cannot read it")
    assert_refused(run("eval", "--data", tmp_path, "--models", tmp_path), "cannot read it")
    one_intent = write_csv(tmp_path / "one.csv", tiny_rows(("card_arrival",)))
    assert_refused(
        run("train", "--data", one_intent, "--out-of-scope", one_intent, "--out", tmp_path), "must be"
    )
    scarce = write_csv(
        tmp_path / "scarce.csv", [*tiny_rows(), ("what's the exchange fee?", "exchange_charge")]
    )
    result = run("train", "--data", scarce, "--out-of-scope", out_of_scope, "--out", tmp_path)
    assert_refused(result, "at least 2 training examples; too few for: exchange_charge")
    assert not any(path.name.startswith("fast-") for path in tmp_path.iterdir())


def test_a_tampered_model_is_refused(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    data, _ = tiny
    folder = save_model(fast_model(), tmp_path)
    (folder / MODEL_FILE).write_bytes(b"not the model")
    assert_refused(run("eval", "--data", data, "--models", tmp_path), "refusing to load it")


def test_hybrid_without_the_extra_says_what_to_install(
    tmp_path: Path, tiny: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable() -> None:
        raise EmbeddingsUnavailable("sentence_transformers is not installed")

    monkeypatch.setattr(training, "get_encoder", unavailable)
    data, out_of_scope = tiny
    result = run(
        "train", "--model", "hybrid", "--data", data, "--out-of-scope", out_of_scope, "--out", tmp_path
    )
    assert_refused(result, 'pip install "haven[embeddings]"')
