"""``haven triage``: train and evaluate the intent models.

``eval`` without a saved model of the requested kind trains one on the training part first (and
says so), so that a fresh checkout can be evaluated with one command. Results go to stdout, with
``accuracy=<0..1>`` as the last line for scripts; progress and errors go to stderr.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from haven.config import get_settings
from haven.triage.intent.data import DEFAULT_OUT_OF_SCOPE_CSV, DEFAULT_TRAIN_CSV, load_examples
from haven.triage.intent.errors import IntentError
from haven.triage.intent.evaluate import EvalReport, evaluate_examples
from haven.triage.intent.model import IntentModel, ModelKind
from haven.triage.intent.store import latest_version, load_model, save_model
from haven.triage.intent.training import train_model

triage_app = typer.Typer(
    help="Intent classification: which of the 77 banking intents a post is, or none.",
    no_args_is_help=True,
)
_stderr = Console(stderr=True)


class Kind(enum.StrEnum):
    fast = "fast"
    hybrid = "hybrid"


def _kind(kind: Kind) -> ModelKind:
    return "hybrid" if kind is Kind.hybrid else "fast"


def _fail(message: str) -> typer.Exit:
    _stderr.print(f"[red]Error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(1)


def train_with_progress(kind: ModelKind, data: Path, out_of_scope: Path, *, use_all: bool) -> IntentModel:
    """Train with a progress bar on stderr (also used by ``haven demo`` on a first start)."""
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=_stderr) as progress:
        task = progress.add_task(f"Training the {kind} model", total=None)

        def report(step: str, done: int, total: int) -> None:
            progress.update(task, description=step, completed=done, total=total)

        return train_model(kind, data, out_of_scope_csv=out_of_scope, progress=report, use_all=use_all)


def _save(model: IntentModel, directory: Path) -> Path:
    try:
        return save_model(model, directory)
    except OSError as exc:
        raise _fail(f"cannot save the model under {directory}: {exc.strerror or exc}") from None


@triage_app.command()
def train(
    model: Annotated[
        Kind, typer.Option(help="fast: TF-IDF only; hybrid: adds sentence embeddings.")
    ] = Kind.fast,
    data: Annotated[Path, typer.Option(help="Labelled posts (columns text,category).")] = DEFAULT_TRAIN_CSV,
    out_of_scope: Annotated[
        Path, typer.Option(help="Posts that are no banking request (category out_of_scope).")
    ] = DEFAULT_OUT_OF_SCOPE_CSV,
    out: Annotated[Path | None, typer.Option(help="Model directory [default: HAVEN_MODEL_DIR].")] = None,
    all_rows: Annotated[
        bool, typer.Option("--all", help="Train on every row, held-out part included (production).")
    ] = False,
) -> None:
    """Train a model and save it as a new version."""
    try:
        trained = train_with_progress(_kind(model), data, out_of_scope, use_all=all_rows)
        folder = _save(trained, out or get_settings().model_dir)
    except IntentError as exc:
        raise _fail(exc.message) from None
    info = trained.info
    typer.echo(f"Model {trained.name} trained in {info.training_seconds:.1f} s")
    if info.held_out is not None:
        held = info.held_out
        typer.echo(f"Held-out top-1 accuracy: {held.top1_accuracy:.4f} ({held.n_in_scope} in-scope posts)")
        typer.echo(f"Held-out accuracy with out-of-scope decisions: {held.accuracy:.4f}")
    else:
        typer.echo(f"Trained on all rows; out-of-fold top-1 accuracy: {info.cv_top1_accuracy:.4f}")
    typer.echo(f"Out-of-scope threshold: {info.threshold:.3f}")
    typer.echo(f"Saved to {folder}")


def _print_report(model: IntentModel, report: EvalReport) -> None:
    def figure(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    typer.echo(f"Model: {model.name}")
    typer.echo(f"Rows: {report.n} ({report.n_in_scope} in scope, {report.n_out_of_scope} out of scope)")
    typer.echo(f"Top-1 accuracy (in-scope rows, threshold aside): {figure(report.top1_accuracy)}")
    typer.echo(f"Macro-F1: {report.macro_f1:.4f}")
    typer.echo(f"In-scope recall (not rejected): {figure(report.in_scope_recall)}")
    if report.n_out_of_scope:
        typer.echo(f"Out-of-scope recall (rejected): {figure(report.out_of_scope_recall)}")
        typer.echo(f"Out-of-scope precision: {figure(report.out_of_scope_precision)}")
    typer.echo(
        f"Latency: {figure(report.latency_ms)} ms per post alone,"
        f" {figure(report.batched_latency_ms)} ms per post in one batch"
    )
    typer.echo("Most confused pairs:" if report.confused_pairs else "Most confused pairs: none")
    for pair in report.confused_pairs:
        typer.echo(f"  {pair}")
    typer.echo(f"accuracy={report.accuracy:.4f}")


@triage_app.command("eval")
def eval_(
    data: Annotated[Path, typer.Option(help="Labelled posts to score (columns text,category).")],
    model: Annotated[Kind, typer.Option(help="Which kind of saved model to score.")] = Kind.fast,
    models: Annotated[Path | None, typer.Option(help="Model directory [default: HAVEN_MODEL_DIR].")] = None,
) -> None:
    """Score the newest saved model on a CSV (training one first if there is none)."""
    kind = _kind(model)
    models = models or get_settings().model_dir
    try:
        examples = load_examples(data)
        if latest_version(models, kind) is None:
            if not DEFAULT_TRAIN_CSV.is_file():
                raise _fail(
                    f"no saved {kind} model in {models}; train one with: haven triage train --data CSV"
                )
            _stderr.print(
                f"No saved {kind} model in {escape(str(models))}: training one on the training part."
            )
            folder = _save(
                train_with_progress(kind, DEFAULT_TRAIN_CSV, DEFAULT_OUT_OF_SCOPE_CSV, use_all=False), models
            )
            _stderr.print(f"Saved to {escape(str(folder))}", soft_wrap=True)
        loaded = load_model(models, kind)
        report = evaluate_examples(loaded, examples)
    except IntentError as exc:
        raise _fail(exc.message) from None
    _print_report(loaded, report)
