"""The snapshot format, the hidden-space projection, the SnapshotWriter and the replay views:
small synthetic arrays and tiny models; one check against the trained run's own model."""

from __future__ import annotations

import numpy as np
import pytest

from mnistkit import hidden_map, replay, snapshots
from mnistkit.hidden_map import Projection
from tests.helpers import images, labels, tiny_model


def clusters(n: int = 300, units: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hidden activations with one blob per digit."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    centres = rng.normal(0, 5, (10, units))
    return centres[y] + rng.normal(0, 1, (n, units)), y


# --- hidden_map ------------------------------------------------------------------------


def test_fit_is_pca_at_unit_radius_and_deterministic():
    h, _ = clusters()
    proj = hidden_map.fit(h)
    xy = proj.apply(h)
    assert xy.shape == (len(h), 2)
    assert np.sqrt(np.mean(np.sum(xy**2, 1))) == pytest.approx(1.0, abs=1e-4)
    assert np.abs(xy.mean(0)).max() < 1e-4
    assert np.allclose(hidden_map.fit(h).apply(h), xy)
    # the axes are the top two principal directions: as much spread as any 2-D view shows
    centred = h - h.mean(0)
    top = np.linalg.svd(centred, compute_uv=False)[:2]
    assert hidden_map.explained(h, proj) == pytest.approx(np.sum(top**2) / np.sum(centred**2))


@pytest.mark.parametrize("angle", [0.3, 2.0, -1.2])
@pytest.mark.parametrize("mirror", [False, True])
def test_procrustes_turns_a_map_onto_the_previous_one(angle, mirror):
    h, _ = clusters(seed=1)
    c, s = np.cos(angle), np.sin(angle)
    turn = np.array([[c, -s], [s, c]]) @ (np.diag([1, -1]) if mirror else np.eye(2))
    previous = hidden_map.fit(h).apply(h) @ turn  # last epoch's map, turned some other way
    basis = np.linalg.qr(np.random.default_rng(2).normal(size=(12, 12)))[0]
    moved = (h @ basis) * 3.0  # this epoch: the same cloud, turned and grown in hidden space
    aligned = hidden_map.fit(moved, previous).apply(moved)
    assert np.abs(aligned - previous).max() < 1e-3


def test_degenerate_layers_do_not_break_the_map():
    assert np.allclose(hidden_map.fit(np.zeros((50, 8))).apply(np.zeros((50, 8))), 0)
    one = hidden_map.fit(np.arange(20.0).reshape(20, 1))
    assert one.axes.shape == (1, 2) and np.allclose(one.apply(np.ones((3, 1)))[:, 1], 0)


def test_nearest_is_in_the_full_hidden_space_nearest_first():
    sample = np.array([[0.0, 0], [1, 0], [5, 5], [0.4, 0]])
    assert hidden_map.nearest(sample, np.array([0.3, 0.0]), k=3).tolist() == [3, 0, 1]
    assert len(hidden_map.nearest(sample, np.zeros(2), k=10)) == 4


def test_knn_agreement_tells_separated_from_mixed():
    h, y = clusters()
    assert hidden_map.knn_agreement(h, y) > 0.9
    assert hidden_map.knn_agreement(np.random.default_rng(0).normal(size=h.shape), y) < 0.4


# --- snapshots ---------------------------------------------------------------------------


def projection(units: int = 4) -> Projection:
    return Projection(np.zeros(units, np.float32), np.eye(units, 2, dtype=np.float32))


def test_an_epoch_round_trips_with_float16_weights(tmp_path):
    kernel = np.random.default_rng(0).normal(size=(3, 3, 1, 4)).astype(np.float32)
    size = snapshots.write_epoch(
        tmp_path, 3, {"conv1": [kernel, np.ones(4)]}, np.ones((5, 2)), np.arange(5), projection()
    )
    assert size == snapshots.epoch_path(tmp_path, 3).stat().st_size
    assert oct(snapshots.epoch_path(tmp_path, 3).stat().st_mode & 0o777) == "0o644"
    snap = snapshots.read_epoch(tmp_path, 3)
    assert snap.epoch == 3 and snap.pred.tolist() == [0, 1, 2, 3, 4]
    assert np.allclose(snap.weights["conv1"][0], kernel, rtol=1e-3, atol=1e-3)
    assert snap.weights["conv1"][0].dtype == np.float32 and len(snap.weights["conv1"]) == 2
    assert np.allclose(snap.projection.axes, np.eye(4, 2))
    assert snapshots.epochs(tmp_path) == [3]


def test_listing_ignores_other_files_and_an_old_run_has_none(tmp_path):
    assert snapshots.epochs(tmp_path) == [] and snapshots.read_sample(tmp_path) is None
    folder = snapshots.folder(tmp_path)
    folder.mkdir()
    for name in ("epoch-002.npz", "epoch-010.npz", "epoch-1.npz", "epoch-002.npz.tmp", "x.npz"):
        (folder / name).write_bytes(b"")
    assert snapshots.epochs(tmp_path) == [2, 10]
    assert snapshots.read_epoch(tmp_path, 2) is None  # empty: damaged, not a crash


@pytest.mark.parametrize(
    "content",
    [b"", b"PK\x03\x04 broken", b"\x93NUMPY not a zip"],
)
def test_a_damaged_epoch_file_reads_as_none(tmp_path, content):
    snapshots.folder(tmp_path).mkdir()
    snapshots.epoch_path(tmp_path, 0).write_bytes(content)
    assert snapshots.read_epoch(tmp_path, 0) is None
    assert replay.map_at(tmp_path, 0) is None and replay.kernels_at(tmp_path, 0) is None


def test_pickles_and_oversized_files_are_not_read(tmp_path, monkeypatch):
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **{"map/xy": np.array([object()], dtype=object)})
    snapshots.folder(tmp_path).mkdir()
    snapshots.epoch_path(tmp_path, 0).write_bytes(buffer.getvalue())
    assert snapshots.read_epoch(tmp_path, 0) is None  # allow_pickle stays off
    snapshots.write_epoch(tmp_path, 1, None, np.zeros((100, 2)), np.zeros(100), projection())
    monkeypatch.setattr(snapshots, "MAX_FILE_BYTES", 100)
    assert snapshots.read_epoch(tmp_path, 1) is None


def test_links_are_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    snapshots.write_epoch(elsewhere, 0, None, np.zeros((3, 2)), np.zeros(3), projection())
    run = tmp_path / "run"
    snapshots.folder(run).mkdir(parents=True)
    snapshots.epoch_path(run, 0).symlink_to(snapshots.epoch_path(elsewhere, 0))
    assert snapshots.read_epoch(run, 0) is None
    (tmp_path / "run2").mkdir()
    snapshots.folder(tmp_path / "run2").symlink_to(snapshots.folder(elsewhere))
    assert snapshots.epochs(tmp_path / "run2") == []
    assert snapshots.read_epoch(tmp_path / "run2", 0) is None


def test_a_sample_with_bad_labels_is_refused(tmp_path):
    snapshots.write_sample(tmp_path, snapshots.Sample(np.arange(3), np.array([1, 2, 3])))
    assert snapshots.read_sample(tmp_path).labels.tolist() == [1, 2, 3]
    snapshots.write_sample(tmp_path, snapshots.Sample(np.arange(3), np.array([1, 2, 30])))
    assert snapshots.read_sample(tmp_path) is None


def test_the_sample_is_the_first_images_of_every_digit():
    y = np.tile(np.arange(10), 30)
    picked = snapshots.sample_indices(y, per_digit=3)
    assert len(picked) == 30 and np.bincount(y[picked]).tolist() == [3] * 10
    assert picked.tolist() == sorted(picked.tolist()) and picked.max() < 30


@pytest.mark.parametrize(
    ("params", "epochs", "every"), [(131_466, 20, 1), (218_058, 30, 2), (10**7, 10, 22)]
)
def test_weights_every_keeps_a_run_under_the_byte_budget(params, epochs, every):
    assert snapshots.weights_every(params, epochs) == every


# --- the SnapshotWriter -----------------------------------------------------------------


def fit_with_writer(tmp_path, epochs: int = 2, every: int = 1):
    from mnistkit.callbacks import SnapshotWriter

    model = tiny_model(units=6)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = images(40), labels(40)
    sample = snapshots.Sample(np.arange(20), y[:20])
    writer = SnapshotWriter(tmp_path, x[:20], sample, every=every)
    model.fit(x, y, validation_data=(x[:8], y[:8]), epochs=epochs, verbose=0, callbacks=[writer])
    return model, writer


def test_the_writer_keeps_epoch_0_and_every_epoch(tmp_path):
    model, writer = fit_with_writer(tmp_path)
    assert snapshots.epochs(tmp_path) == [0, 1, 2]
    assert len(writer.seconds) == len(writer.bytes) == 3
    last = snapshots.read_epoch(tmp_path, 2)
    for layer in ("dense1", "output"):
        live_weights = model.get_layer(layer).get_weights()
        for saved, live in zip(last.weights[layer], live_weights, strict=True):
            assert np.allclose(saved, live, atol=2e-3)
    first = snapshots.read_epoch(tmp_path, 0)
    assert not np.allclose(first.weights["dense1"][0], last.weights["dense1"][0])
    assert first.xy.shape == (20, 2) and first.pred.shape == (20,)
    assert snapshots.read_sample(tmp_path).indices.tolist() == list(range(20))


def test_the_writer_skips_weights_between_kept_epochs(tmp_path):
    fit_with_writer(tmp_path, epochs=3, every=2)
    kept = {e: bool(snapshots.read_epoch(tmp_path, e).weights) for e in range(4)}
    assert kept == {0: True, 1: False, 2: True, 3: False}
    assert [h.epochs for h in replay.weight_histograms(tmp_path)][0] == [0, 2]
    assert replay.map_at(tmp_path, 3) is not None  # the map is kept every epoch


# --- replay ----------------------------------------------------------------------------


def test_histograms_share_bins_across_epochs(tmp_path):
    fit_with_writer(tmp_path)
    for h in replay.weight_histograms(tmp_path, bins=11):
        assert h.counts.shape == (3, 11) and len(h.edges) == 12
        assert h.edges[0] == pytest.approx(-h.edges[-1])
        assert (h.counts.sum(1) == h.counts[0].sum()).all()  # every weight in some bin


def test_map_frame_confusion_and_accuracy():
    frame = replay.MapFrame(1, np.zeros((4, 2)), np.array([1, 1, 2, 3]), np.array([1, 2, 2, 3]),
                            np.arange(4))  # fmt: skip
    assert frame.accuracy == 0.75 and frame.wrong.tolist() == [False, True, False, False]
    cm = frame.confusion()
    assert cm[1, 1] == 1 and cm[1, 2] == 1 and cm.sum() == 4


def test_a_network_without_weights_for_an_epoch_gives_none(tmp_path):
    import json

    from mnistkit.config import TrainConfig

    fit_with_writer(tmp_path, epochs=1, every=2)
    (tmp_path / "config.json").write_text(
        json.dumps(TrainConfig(arch="dense", dense_units=(6,), dropout=0.0).to_dict())
    )
    net = replay.EpochNetwork(tmp_path)
    assert replay.image_view(net, 1, images(1)[0]) is None
    view = replay.image_view(net, 0, images(1)[0])
    assert view.probs.sum() == pytest.approx(1.0, abs=1e-4) and view.feature_maps == {}
    assert view.saliency.shape == (28, 28)


def test_a_run_without_config_cannot_be_rebuilt(tmp_path):
    with pytest.raises(ValueError, match="config.json"):
        replay.EpochNetwork(tmp_path)


def test_the_last_epoch_replays_what_the_runs_own_model_predicts(trained_runs):
    """Trusted reference: the 1-epoch run's model.keras is its epoch-1 network."""
    from mnistkit.data import load_mnist, to_model_input
    from mnistkit.predict import load_model
    from mnistkit.training import predict_proba

    run_dir = trained_runs.root / trained_runs.cnn
    frame = replay.map_at(run_dir, 1)
    _, (x_test, y_test) = load_mnist()
    assert (frame.labels == y_test[frame.indices]).all()
    x = to_model_input(x_test[frame.indices])
    saved = predict_proba(load_model(run_dir / "model.keras"), x).argmax(1)
    assert np.mean(saved == frame.pred) >= 0.995  # float16 weights
    view = replay.image_view(replay.EpochNetwork(run_dir), 1, x[0])
    assert set(view.feature_maps) == {"conv1", "conv2"}
    assert replay.kernels_at(run_dir, 1).shape == (16, 3, 3)
