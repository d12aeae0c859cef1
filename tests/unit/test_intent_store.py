"""Saved intent models: versions, manifests, and refusing a model file that was changed."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from haven.triage.intent import (
    IntentModel,
    ModelNotFound,
    ModelStoreError,
    latest_version,
    load_model,
    save_model,
)
from haven.triage.intent.data import DEFAULT_OUT_OF_SCOPE_CSV, DEFAULT_TRAIN_CSV, file_sha256
from haven.triage.intent.store import MANIFEST_FILE, MODEL_FILE
from tests.unit.intent_support import fast_model

POSTS = ["my card hasn't arrived", "@bank thanks!", "how do I top up by bank transfer?", ""]


@pytest.fixture(scope="module")
def model() -> IntentModel:
    return fast_model()


def _with_version(model: IntentModel, version: str) -> IntentModel:
    other = copy.copy(model)
    other.info = dataclasses.replace(model.info, version=version)
    return other


def test_save_and_load_round_trip(model: IntentModel, tmp_path: Path) -> None:
    folder = save_model(model, tmp_path)
    assert folder == tmp_path / model.name
    assert sorted(path.name for path in folder.iterdir()) == [MANIFEST_FILE, MODEL_FILE]
    assert [path.name for path in tmp_path.iterdir()] == [model.name]
    loaded = load_model(tmp_path, "fast")
    assert loaded.name == model.name and loaded.info == model.info
    assert loaded.predict(POSTS) == model.predict(POSTS)


def test_the_manifest_describes_the_model(model: IntentModel, tmp_path: Path) -> None:
    folder = save_model(model, tmp_path)
    manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["kind"] == "fast" and manifest["version"] == model.info.version
    assert manifest["created_at"].endswith("+00:00")
    assert manifest["data_sha256"] == file_sha256(DEFAULT_TRAIN_CSV)
    assert manifest["out_of_scope_sha256"] == file_sha256(DEFAULT_OUT_OF_SCOPE_CSV)
    assert manifest["n_examples"] == 8005 and manifest["n_out_of_scope"] == 358
    assert manifest["held_out"]["top1_accuracy"] == model.info.held_out.top1_accuracy  # type: ignore[union-attr]
    assert manifest["threshold"] == model.threshold
    assert "98%" in manifest["threshold_criterion"]
    assert "20%" in manifest["split"]
    assert manifest["sklearn_version"]
    assert manifest["model_file"] == MODEL_FILE
    assert manifest["model_sha256"] == file_sha256(folder / MODEL_FILE)


def test_a_changed_model_file_is_refused_before_unpickling(model: IntentModel, tmp_path: Path) -> None:
    folder = save_model(model, tmp_path)
    data = bytearray((folder / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelStoreError, match="does not match the manifest; refusing to load it"):
        load_model(tmp_path, "fast")


def test_a_replaced_model_file_is_refused(model: IntentModel, tmp_path: Path) -> None:
    folder = save_model(model, tmp_path)
    (folder / MODEL_FILE).write_bytes(b"cos\nsystem\n(S'echo owned'\ntR.")
    with pytest.raises(ModelStoreError, match="does not match"):
        load_model(tmp_path, "fast")


def test_a_broken_manifest_is_refused(model: IntentModel, tmp_path: Path) -> None:
    folder = save_model(model, tmp_path)
    (folder / MANIFEST_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelStoreError, match="unreadable manifest"):
        load_model(tmp_path, "fast")
    (folder / MANIFEST_FILE).write_text("[]", encoding="utf-8")
    with pytest.raises(ModelStoreError, match="not a model manifest"):
        load_model(tmp_path, "fast")


def test_a_folder_renamed_to_another_kind_is_refused(model: IntentModel, tmp_path: Path) -> None:
    folder = save_model(model, tmp_path)
    folder.rename(tmp_path / f"hybrid-{model.info.version}")
    with pytest.raises(ModelStoreError, match="describes another model"):
        load_model(tmp_path, "hybrid")


def test_the_newest_version_wins(model: IntentModel, tmp_path: Path) -> None:
    assert latest_version(tmp_path / "nothing-here", "fast") is None
    for version in ("20260101T000000-aaaaaa", "20261231T235959-bbbbbb", "20260601T120000-cccccc"):
        save_model(_with_version(model, version), tmp_path)
    (tmp_path / "fast-20990101T000000-dddddd").mkdir()  # no manifest: an unfinished save
    (tmp_path / "fast-latest").mkdir()
    assert latest_version(tmp_path, "fast") == "20261231T235959-bbbbbb"
    assert latest_version(tmp_path, "hybrid") is None
    assert load_model(tmp_path, "fast").info.version == "20261231T235959-bbbbbb"
    assert load_model(tmp_path, "fast", "20260101T000000-aaaaaa").info.version == "20260101T000000-aaaaaa"


def test_missing_models_and_existing_versions(model: IntentModel, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="haven triage train --model hybrid"):
        load_model(tmp_path, "hybrid")
    save_model(model, tmp_path)
    with pytest.raises(ModelStoreError, match="already exists"):
        save_model(model, tmp_path)
