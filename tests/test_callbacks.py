"""Tests for mnistkit.callbacks: each callback alone, a stop, and any order in a real fit."""

from __future__ import annotations

import itertools
import json
import stat

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from mnistkit import atomic, callbacks  # noqa: E402
from mnistkit import progress as progress_module  # noqa: E402
from mnistkit.callbacks import (  # noqa: E402
    BestCheckpoint,
    HistoryWriter,
    RecorderCallback,
    StopOnRequest,
)
from mnistkit.progress import Progress  # noqa: E402
from mnistkit.runs import RunStore  # noqa: E402
from tests.helpers import images, labels, tiny_model  # noqa: E402


@pytest.fixture
def model():
    m = tiny_model(seed=0, units=4)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


@pytest.fixture
def raw_progress(monkeypatch) -> Progress:
    """A Progress whose batch points are the raw recovered values (no smoothing)."""
    monkeypatch.setattr(progress_module, "SMOOTHING", 0.0)
    p = Progress()
    p.begin(2, 4)
    return p


def running_means(values):
    return list(np.cumsum(values) / np.arange(1, len(values) + 1))


def epoch(cbs, model, number, logs, *, stop_in_training=False, stop_in_validation=False):
    """Drive hooks as `fit` does for one epoch with validation; a stop sets Keras' flags
    in a batch hook, as `StopOnRequest` does."""
    model.stop_training = False
    for cb in cbs:
        cb.on_epoch_begin(number)
    for cb in cbs:
        cb.on_train_batch_end(0, {"loss": 1.0})
    model.stop_training = stop_in_training
    model.stop_evaluating = False
    for cb in cbs:
        cb.on_test_begin()
    if stop_in_validation:
        model.stop_training = model.stop_evaluating = True
    for cb in cbs:
        cb.on_test_end()
    for cb in cbs:
        cb.on_epoch_end(number, logs)


# --- StopOnRequest ----------------------------------------------------------------------


def test_stop_on_request_sets_keras_flags_in_the_next_batch_hook(model):
    p = Progress()
    cb = StopOnRequest(p.stop_event)
    cb.set_model(model)
    model.stop_training = False
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    p.request_stop()
    cb.on_train_batch_end(1, {"loss": 1.0})
    assert model.stop_training is True
    model.stop_training, model.stop_evaluating = False, False
    cb.on_test_batch_end(0, {})
    assert model.stop_evaluating is True and model.stop_training is True


# --- RecorderCallback -------------------------------------------------------------------


def test_recorder_recovers_per_batch_losses(model, raw_progress):
    cb = RecorderCallback(raw_progress)
    cb.set_model(model)
    losses = [2.0, 1.0, 0.5, 0.25]
    accs = [0.0, 0.5, 0.75, 1.0]
    for number in range(2):
        cb.on_epoch_begin(number)
        for i, (m, a) in enumerate(zip(running_means(losses), running_means(accs), strict=True)):
            cb.on_train_batch_end(i, {"loss": m, "accuracy": a, "other": 7.0})
    b = raw_progress.snapshot().batches
    assert [pt["loss"] for pt in b] == pytest.approx(losses * 2)
    assert [pt["accuracy"] for pt in b] == pytest.approx(accs * 2)
    assert all(set(pt) == {"epoch", "loss", "accuracy"} for pt in b)
    assert [pt["epoch"] for pt in b[:4]] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert [pt["epoch"] for pt in b[4:]] == pytest.approx([1.25, 1.5, 1.75, 2.0])


def test_recorder_with_steps_per_execution(model, raw_progress):
    """Keras reports every k-th batch: each point is the mean loss of the k new batches."""
    cb = RecorderCallback(raw_progress)
    cb.set_model(model)
    means = running_means([4.0, 2.0, 1.0, 1.0, 0.5, 0.5])
    cb.on_epoch_begin(0)
    cb.on_train_batch_end(2, {"loss": means[2]})
    cb.on_train_batch_end(5, {"loss": means[5]})
    b = raw_progress.snapshot().batches
    assert [pt["loss"] for pt in b] == pytest.approx([7.0 / 3, 2.0 / 3])
    assert raw_progress.snapshot().step == 4  # batch 6 of a 4-step epoch: capped at its end


def test_recorder_says_what_the_run_does_between_batches(model, raw_progress):
    """Validation and saving take seconds at each epoch's end: the message says so."""
    cb = RecorderCallback(raw_progress)
    cb.set_model(model)
    cb.on_epoch_begin(0)
    assert raw_progress.snapshot().message == callbacks.PREPARING
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert raw_progress.snapshot().message == callbacks.TRAINING
    cb.on_test_begin()
    assert raw_progress.snapshot().message == callbacks.VALIDATING
    cb.on_epoch_end(0, {"loss": 1.0, "val_loss": 1.0})
    assert raw_progress.snapshot().message == callbacks.SAVING
    cb.on_epoch_begin(1)
    assert raw_progress.snapshot().message == callbacks.TRAINING


def test_recorder_epoch_end_records_numbers_and_seconds_without_editing_logs(model):
    p = Progress()
    p.begin(1, 1)
    cb = RecorderCallback(p)
    cb.set_model(model)
    logs = {"loss": np.float32(0.5), "val_loss": 0.25, "note": "text"}
    before = dict(logs)
    epoch([cb], model, 0, logs)
    h = p.snapshot().history
    assert h["loss"] == [0.5] and h["val_loss"] == [0.25] and "note" not in h
    assert len(h["epoch_seconds"]) == 1 and h["epoch_seconds"][0] >= 0
    assert logs == before


# --- a cut-short epoch: hidden from the recorder and the checkpoint, logs untouched ------


@pytest.mark.parametrize("where", ["training", "validation"])
def test_a_cut_short_epoch_is_not_recorded_nor_checkpointed(model, tmp_path, where):
    p = Progress()
    recorder, checkpoint = RecorderCallback(p), BestCheckpoint(tmp_path / "model.keras")
    cbs = [recorder, checkpoint]
    for cb in cbs:
        cb.set_model(model)
    epoch(cbs, model, 0, {"loss": 1.0, "val_loss": 0.5, "val_accuracy": 0.8})
    saved = (tmp_path / "model.keras").read_bytes()
    model.set_weights([w + 1.0 for w in model.get_weights()])

    logs = {"loss": 0.9, "val_loss": 0.1, "val_accuracy": 0.9}  # better, but partial
    before = dict(logs)
    epoch(
        cbs,
        model,
        1,
        logs,
        stop_in_training=where == "training",
        stop_in_validation=where == "validation",
    )
    assert logs == before  # nobody edits Keras' logs
    assert p.snapshot().history["val_loss"] == [0.5]  # only the whole epoch
    assert (checkpoint.best, checkpoint.best_epoch) == (0.5, 0)
    assert (tmp_path / "model.keras").read_bytes() == saved


def test_a_stop_after_a_whole_epoch_does_not_hide_it(model, tmp_path):
    """EarlyStopping sets `stop_training` in its `on_epoch_end`; placed first, it must not
    make the others drop that (whole) epoch."""
    p = Progress()
    early = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: setattr(model, "stop_training", True)
    )
    recorder, checkpoint = RecorderCallback(p), BestCheckpoint(tmp_path / "model.keras")
    for cb in (early, recorder, checkpoint):
        cb.set_model(model)
    epoch([early, recorder, checkpoint], model, 0, {"loss": 1.0, "val_loss": 0.5})
    assert p.snapshot().history["val_loss"] == [0.5] and checkpoint.best_epoch == 0


# --- BestCheckpoint ---------------------------------------------------------------------


def test_best_checkpoint_saves_only_on_improvement(model, tmp_path):
    path = tmp_path / "model.keras"
    cb = BestCheckpoint(path)
    cb.set_model(model)
    cb.on_epoch_end(0, {"loss": 1.0})  # no val_loss: nothing to compare
    assert not path.exists() and cb.best_weights is None

    cb.on_epoch_end(0, {"val_loss": 1.0})
    assert path.is_file() and (cb.best, cb.best_epoch) == (1.0, 0)
    saved = path.read_bytes()
    first_weights = [w.copy() for w in model.get_weights()]

    model.set_weights([w + 1.0 for w in first_weights])
    cb.on_epoch_end(1, {"val_loss": 1.5})
    cb.on_epoch_end(2, {"val_loss": 1.0})  # equal is not better
    assert path.read_bytes() == saved and (cb.best, cb.best_epoch) == (1.0, 0)
    for kept, first in zip(cb.best_weights, first_weights, strict=True):
        np.testing.assert_array_equal(kept, first)

    cb.on_epoch_end(3, {"val_loss": 0.5})
    assert (cb.best, cb.best_epoch) == (0.5, 3)
    loaded = keras.saving.load_model(path, compile=False)
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]  # no .tmp- left
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600


def test_best_checkpoint_writes_atomically(model, tmp_path, monkeypatch):
    path = tmp_path / "model.keras"
    replaced: list[tuple[str, str]] = []
    real_replace = atomic.os.replace

    def spy(src, dst):
        replaced.append((str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", spy)
    cb = BestCheckpoint(path)
    cb.set_model(model)
    cb.on_epoch_end(0, {"val_loss": 1.0})
    ((src, dst),) = replaced
    assert dst == str(path)
    assert src != dst and src.startswith(str(tmp_path / ".tmp-")) and src.endswith(".keras")
    good = path.read_bytes()

    def broken_save(*args, **kwargs):
        with open(args[0], "wb") as f:  # a half-written temporary file ...
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        cb.on_epoch_end(1, {"val_loss": 0.5})
    assert path.read_bytes() == good  # ... never replaces the good model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


# --- in a real fit, in every order --------------------------------------------------------


class StopAt(keras.callbacks.Callback):
    """Requests a stop before training batch `batch` of epoch `at_epoch` (the user clicks)."""

    def __init__(self, progress: Progress, at_epoch: int, batch: int) -> None:
        super().__init__()
        self.progress, self.at_epoch, self.batch, self.epoch = progress, at_epoch, batch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == (self.at_epoch, self.batch):
            self.progress.request_stop()


ORDERS = list(itertools.permutations(range(4)))[::5]  # 5 of the 24 orders, the given one first


@pytest.mark.parametrize("order", ORDERS)
def test_a_real_fit_stopped_mid_epoch_in_any_order(model, tmp_path, monkeypatch, order):
    p = Progress()
    p.begin(3, 10)
    store = RunStore(tmp_path)
    run_dir = store.create("fit", {"arch": "dense"})
    path = store.model_path(run_dir)
    saves: list[str] = []
    real_replace = callbacks.atomic_replace
    monkeypatch.setattr(
        callbacks, "atomic_replace", lambda *a, **k: (saves.append(a[0]), real_replace(*a, **k))
    )
    ours = [
        StopOnRequest(p.stop_event),
        RecorderCallback(p),
        BestCheckpoint(path),
        HistoryWriter(store, run_dir),
    ]
    seen: list[int] = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    model.fit(
        images(80),
        labels(80),
        validation_data=(images(16, 1), labels(16, 1)),
        batch_size=8,
        epochs=3,
        verbose=0,
        callbacks=[StopAt(p, 1, 3), *(ours[i] for i in order), counter],
    )
    assert seen == list(range(10)) + [0, 1, 2, 3]  # batch 3 of epoch 2 was the last one
    s = p.snapshot()
    assert (s.epoch, s.step, len(s.batches)) == (1, 4, 14)
    assert len(s.history["loss"]) == 1 and len(s.history["epoch_seconds"]) == 1
    assert saves == [path] and ours[2].best_epoch == 0  # epoch 2 was never compared
    assert ours[2].best == pytest.approx(s.history["val_loss"][0])
    assert same_history(json.loads((run_dir / "history.json").read_text()), s.history)


def test_stop_ends_training_within_one_execution_step(model):
    """With `steps_per_execution=k` Keras calls batch hooks every k batches: a stop takes
    effect at the end of the execution in flight, never later."""
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=4,
    )
    p = Progress()
    p.begin(2, 20)
    seen: list[int] = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    model.fit(
        images(160),
        labels(160),
        batch_size=8,
        epochs=2,
        verbose=0,
        callbacks=[StopAt(p, 0, 4), StopOnRequest(p.stop_event), RecorderCallback(p), counter],
    )
    # hooks come at batches 3, 7, ...; the request before the execution of 4-7 ends it at 7
    assert seen == [3, 7]
    assert p.snapshot().history == {}


def test_history_writer_writes_after_each_epoch(model, tmp_path, monkeypatch):
    p = Progress()
    store = RunStore(tmp_path)
    run_dir = store.create("hist", {"arch": "dense"})
    written: list[int] = []
    real_write = store.write_history
    monkeypatch.setattr(
        store, "write_history", lambda d, h: (written.append(len(h["loss"])), real_write(d, h))
    )
    writer = HistoryWriter(store, run_dir)
    model.fit(
        images(32),
        labels(32),
        validation_data=(images(8, 1), labels(8, 1)),
        batch_size=8,
        epochs=3,
        verbose=0,
        callbacks=[writer, RecorderCallback(p)],  # the writer first: order does not matter
    )
    assert written == [1, 2, 3, 3]  # as each epoch ends (killed later: kept), and at the end
    history = json.loads((run_dir / "history.json").read_text())
    assert same_history(history, p.snapshot().history) and len(history["val_loss"]) == 3


def same_history(written: dict, recorded: dict) -> bool:
    """The same epochs and values; each callback times the epoch itself (microseconds apart)."""
    seconds = written.pop("epoch_seconds"), recorded["epoch_seconds"]
    rest = {k: v for k, v in recorded.items() if k != "epoch_seconds"}
    return written == rest and seconds[0] == pytest.approx(seconds[1], abs=0.05)


def test_module_has_no_callback_that_edits_logs():
    """The design rule, checked where it could regress: no `logs[...] =`/`logs.pop` here."""
    import inspect

    source = inspect.getsource(callbacks)
    assert "logs[" not in source and "logs.pop" not in source and "logs.update" not in source
