"""Tests for the command line contract (`python -m mnistkit ...`), run as real subprocesses."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from mnistkit.cli import TRAIN_FLAGS, build_parser, main, train_config
from mnistkit.config import ARCHS, PRESETS, TrainConfig, quick_lesson, seed_defaults
from tests.helpers import (
    DATA_DIR,
    blank_png,
    draw_digit_png,
    requires_data,
    run_cli,
    save_tiny_model,
)

SUMMARY_KEYS = {"run_dir", "test_accuracy", "test_loss", "epochs_run", "train_seconds", "params"}


def last_json(stdout: str):
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, "no output on stdout"
    return json.loads(lines[-1])


def assert_one_error_line(proc, *words: str) -> str:
    """Exit 1 with exactly one line on stderr (no traceback, no TensorFlow log noise)."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`train --json` once: a tiny dense run in its own runs folder."""
    if DATA_DIR is None:
        pytest.skip("MNISTKIT_DATA_DIR is not set: the CLI train tests need real MNIST")
    runs_dir = tmp_path_factory.mktemp("cli-runs")
    proc = run_cli(
        "train", "--arch", "dense", "--subset", "300", "--epochs", "1",
        "--runs-dir", runs_dir, "--name", "cli demo", "--json",
    )  # fmt: skip
    return proc, runs_dir


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """A tiny (untrained) model file: enough for predict's contract, no MNIST needed."""
    return save_tiny_model(tmp_path_factory.mktemp("cli-model") / "tiny.keras", seed=2)


@pytest.fixture
def corrupt_model(tmp_path) -> Path:
    path = tmp_path / "corrupt.keras"
    path.write_bytes(np.random.default_rng(1).bytes(2048))
    return path


# --- train / evaluate on real data ----------------------------------------------------


@pytest.mark.slow
@requires_data
def test_train_json(trained):
    proc, runs_dir = trained
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc.stdout)
    assert SUMMARY_KEYS <= set(summary)
    run_dir = Path(summary["run_dir"])
    assert run_dir.parent == runs_dir.resolve() and run_dir.name.endswith("cli-demo")
    assert summary["status"] == "completed"
    assert summary["epochs_run"] == 1 and summary["params"] == 218_058
    assert 0.1 < summary["test_accuracy"] <= 1.0 and summary["test_loss"] > 0
    assert summary["train_seconds"] > 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] == summary["test_accuracy"]
    assert (run_dir / "model.keras").is_file()
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["arch"], config["subset"], config["epochs"]) == ("dense", 300, 1)
    assert (config["batch_size"], config["optimizer"], config["dropout"]) == (32, "adam", 0.0)
    # progress lines go to stdout before the summary; stderr stays empty on success
    lines = proc.stdout.strip().splitlines()
    assert any(line.startswith("epoch 1") for line in lines[:-1])
    assert proc.stderr.strip() == ""


@pytest.mark.slow
@requires_data
def test_evaluate_json(trained):
    proc, _ = trained
    run_dir = last_json(proc.stdout)["run_dir"]
    ev = run_cli("evaluate", run_dir, "--json")
    assert ev.returncode == 0, ev.stderr
    result = last_json(ev.stdout)
    assert {"test_accuracy", "test_loss", "confusion_matrix"} <= set(result)
    cm = np.array(result["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 10_000
    assert result["test_accuracy"] == pytest.approx(np.trace(cm) / 10_000)
    assert result["test_accuracy"] == pytest.approx(
        last_json(proc.stdout)["test_accuracy"], abs=1e-4
    )
    assert "predictions" not in result
    assert ev.stderr == ""


@pytest.mark.slow
@requires_data
def test_runs_lists_the_run(trained):
    proc, runs_dir = trained
    run_dir = Path(last_json(proc.stdout)["run_dir"])
    text = run_cli("runs", "--runs-dir", runs_dir)
    assert text.returncode == 0 and run_dir.name in text.stdout and "completed" in text.stdout
    listed = last_json(run_cli("runs", "--runs-dir", runs_dir, "--json").stdout)
    assert [r["run_id"] for r in listed] == [run_dir.name]
    assert listed[0]["status"] == "completed" and listed[0]["arch"] == "dense"


@pytest.mark.slow
@requires_data
def test_train_text_output_in_process(tmp_path, capsys):
    code = main(
        ["train", "--arch", "cnn", "--subset", "100", "--epochs", "1", "--runs-dir", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0].startswith("epoch 1  loss ")
    assert out.splitlines()[-2].startswith("completed: test accuracy")
    assert out.splitlines()[-1].startswith(f"run saved in {tmp_path.resolve()}")


# --- predict --------------------------------------------------------------------------


def test_predict_json(tmp_path, model_file):
    digit = draw_digit_png(tmp_path / "digit.png")
    empty = blank_png(tmp_path / "empty.png")
    not_image = tmp_path / "notes.png"
    not_image.write_text("this is not a picture")
    copies = []
    for i in range(100):
        copy = tmp_path / f"copy{i}.png"
        copy.write_bytes(digit.read_bytes())
        copies.append(copy)
    files = [digit, empty, not_image, tmp_path / "missing.png", *copies]
    proc = run_cli("predict", "--model", model_file, "--json", *files)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == len(files)
    assert [r["file"] for r in rows] == [str(f) for f in files]
    for r in rows:
        assert set(r) == {"file", "digit", "probabilities", "error"}

    first = rows[0]
    assert first["error"] is None and isinstance(first["digit"], int)
    assert len(first["probabilities"]) == 10
    assert sum(first["probabilities"]) == pytest.approx(1.0, abs=1e-4)
    assert first["digit"] == int(np.argmax(first["probabilities"]))
    assert all(r["probabilities"] == first["probabilities"] for r in rows[4:])

    for r in rows[1:4]:
        assert r["digit"] is None and r["probabilities"] is None
        assert isinstance(r["error"], str) and r["error"]
    assert "draw" in rows[1]["error"].lower()  # an empty drawing: a message, not a guess

    # the same numbers as the library gives in-process
    from mnistkit.imaging import load_image
    from mnistkit.predict import load_predictor
    from mnistkit.preprocess import preprocess_digit

    expected = load_predictor(model_file).proba(preprocess_digit(load_image(digit)).input)[0]
    np.testing.assert_allclose(first["probabilities"], expected, atol=2e-6)


def test_predict_text_in_process(tmp_path, model_file, capsys):
    digit = draw_digit_png(tmp_path / "d.png")
    empty = blank_png(tmp_path / "e.png")
    assert main(["predict", "--model", str(model_file), str(digit), str(empty)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{digit}: ") and "%" in lines[0]
    assert lines[1] == f"{empty}: Draw a digit"


def test_predict_only_empty_images_still_checks_the_model(tmp_path, corrupt_model):
    empty = blank_png(tmp_path / "e.png")
    assert_one_error_line(
        run_cli("predict", "--model", corrupt_model, "--json", empty), "corrupt.keras"
    )


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["fly"],
        ["train"],
        ["train", "--arch", "rnn"],
        ["train", "--arch", "cnn", "--epochs", "abc"],
        ["train", "--arch", "cnn", "--optimizer", "lbfgs"],
        ["evaluate"],
        ["predict", "--model", "m.keras"],
        ["predict", "x.png"],
        ["runs", "--bogus"],
    ],
    ids=lambda a: " ".join(a) or "no-args",
)
def test_usage_errors_exit_2(args):
    proc = run_cli(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "usage:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_model(tmp_path):
    digit = draw_digit_png(tmp_path / "d.png")
    missing = tmp_path / "nope.keras"
    assert_one_error_line(run_cli("evaluate", missing, "--json"), "no model file", str(missing))
    assert_one_error_line(run_cli("predict", "--model", missing, digit), "no model file")
    assert_one_error_line(run_cli("evaluate", tmp_path), "has no model.keras")


def test_corrupt_model_predict(tmp_path, corrupt_model):
    digit = draw_digit_png(tmp_path / "d.png")
    line = assert_one_error_line(
        run_cli("predict", "--model", corrupt_model, "--json", digit), "corrupt.keras"
    )
    assert "not a valid .keras file" in line


@pytest.mark.slow
@requires_data
def test_corrupt_model_evaluate(corrupt_model):
    assert_one_error_line(run_cli("evaluate", corrupt_model, "--json"), "corrupt.keras")


def test_wrong_extension_model(tmp_path, model_file):
    other = tmp_path / "model.h5"
    other.write_bytes(model_file.read_bytes())
    assert_one_error_line(run_cli("evaluate", other), "model.h5", ".keras")


def test_train_missing_data_dir(tmp_path):
    proc = run_cli("train", "--arch", "cnn", "--data-dir", "/nonexistent", "--runs-dir", tmp_path)
    assert_one_error_line(proc, "/nonexistent")
    assert not any(tmp_path.iterdir())  # failed before any run folder was created


def test_train_empty_data_dir(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli("train", "--arch", "dense", "--data-dir", empty, "--runs-dir", tmp_path / "r")
    assert_one_error_line(proc, str(empty), "train-images-idx3-ubyte")


@pytest.mark.parametrize(
    "extra, word",
    [
        (["--dropout", "1.5"], "dropout"),
        (["--subset", "5"], "subset"),
        (["--epochs", "0"], "epochs"),
        (["--learning-rate", "-1"], "learning_rate"),
    ],
)
def test_train_invalid_config(tmp_path, extra, word):
    proc = run_cli("train", "--arch", "dense", "--runs-dir", tmp_path, *extra)
    assert_one_error_line(proc, word)


def test_runs_empty(tmp_path):
    proc = run_cli("runs", "--runs-dir", tmp_path / "none")
    assert proc.returncode == 0 and "no runs yet" in proc.stdout
    proc = run_cli("runs", "--runs-dir", tmp_path / "none", "--json")
    assert last_json(proc.stdout) == []


# --- in process -----------------------------------------------------------------------


def test_parser_defaults_are_the_seed_preset():
    args = build_parser().parse_args(["train", "--arch", "cnn"])
    assert args.preset == "seed" and args.json is False
    assert all(getattr(args, f) is None for f in TRAIN_FLAGS)  # None: the preset's value
    assert set(TRAIN_FLAGS) <= {f.name for f in dataclasses.fields(TrainConfig)}


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("preset_id", list(PRESETS))
def test_preset_flag_gives_the_preset(preset_id, arch):
    args = build_parser().parse_args(["train", "--arch", arch, "--preset", preset_id])
    assert train_config(args) == PRESETS[preset_id].make(arch)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--arch", "cnn"], seed_defaults("cnn")),
        (["--arch", "dense"], seed_defaults("dense")),
        (
            ["--arch", "cnn", "--preset", "quick", "--epochs", "2"],
            quick_lesson("cnn").replace(epochs=2),
        ),
        (
            ["--arch", "dense", "--preset", "quick", "--lr-schedule", "constant", "--augment"],
            quick_lesson("dense").replace(lr_schedule="constant", augment=True),
        ),
        (
            ["--arch", "cnn", "--preset", "quick", "--steps-per-execution", "1", "--no-augment"],
            quick_lesson("cnn").replace(steps_per_execution=1),
        ),
    ],
)
def test_flags_override_the_preset(argv, expected):
    assert train_config(build_parser().parse_args(["train", *argv])) == expected


def test_unknown_preset_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["train", "--arch", "cnn", "--preset", "quick lesson demo"])
    assert exc.value.code == 2
    assert "seed" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--arch", "cnn"], {"arch": "cnn", "epochs": 20, "dropout": 0.4, "batch_size": 32}),
        (["--arch", "dense"], {"arch": "dense", "epochs": 10, "dropout": 0.0, "patience": 3}),
        (
            ["--arch", "dense", "--epochs", "2", "--dropout", "0", "--optimizer", "sgd"],
            {"epochs": 2, "dropout": 0.0, "optimizer": "sgd", "learning_rate": 0.001},
        ),
        (
            ["--arch", "cnn", "--dropout", "0", "--subset", "500", "--activation", "tanh"],
            {"dropout": 0.0, "subset": 500, "activation": "tanh", "seed": 42},
        ),
        (
            ["--arch", "cnn", "--augment", "--lr-schedule", "cosine", "--steps-per-execution", "4"],
            {"augment": True, "lr_schedule": "cosine", "steps_per_execution": 4},
        ),
        (
            ["--arch", "cnn", "--preset", "quick", "--batch-size", "64"],
            quick_lesson("cnn").replace(batch_size=64).to_dict(),
        ),
    ],
)
def test_train_flags_become_the_config(monkeypatch, capsys, tmp_path, argv, expected):
    """The flags map onto TrainConfig (training itself replaced by a recorder)."""
    import mnistkit.data
    import mnistkit.training
    from mnistkit.training import RunResult

    seen = {}

    def fake_train(config, store, **kwargs):
        seen.update(config=config, store=store, **kwargs)
        return RunResult(tmp_path / "run", "completed", {"test_accuracy": 0.5}, "done")

    monkeypatch.setattr(mnistkit.data, "load_mnist", lambda data_dir=None: None)
    monkeypatch.setattr(mnistkit.training, "train", fake_train)
    assert main(["train", *argv, "--runs-dir", str(tmp_path), "--name", "x", "--json"]) == 0
    config = seen["config"].to_dict()
    assert {k: config[k] for k in expected} == expected
    assert seen["name"] == "x" and seen["store"].root == tmp_path.resolve()
    summary = last_json(capsys.readouterr().out)
    assert summary["test_accuracy"] == 0.5 and summary["run_dir"] == str(tmp_path / "run")


def test_main_runs_in_process(tmp_path, capsys):
    assert main(["runs", "--runs-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["evaluate", str(tmp_path / "x.keras")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no model file" in err
    with pytest.raises(SystemExit) as info:
        main(["train"])
    assert info.value.code == 2


def test_runs_lists_damaged_runs_and_prints_strict_json(tmp_path, capsys):
    """A run whose arch is a list and whose metrics hold a NaN or a string (issue: TypeError
    half-way through, and `NaN` in --json output)."""
    from devtools.hostile import hand_in_run

    odd = hand_in_run(tmp_path, "20240101-120000-odd", metrics={"test_accuracy": "high"})
    (odd / "config.json").write_text(json.dumps({"arch": ["cnn", "dense"]}))
    nan = hand_in_run(tmp_path, "20240101-130000-nan")
    (nan / "metrics.json").write_text('{"test_accuracy": NaN}')
    hand_in_run(tmp_path, "20240101-140000-good", metrics={"test_accuracy": 0.97})
    assert main(["runs", "--runs-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "97.00%" in lines[0] and "ignored bad arch" in lines[2]
    assert main(["runs", "--runs-dir", str(tmp_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(name))
    assert [r["arch"] for r in rows] == ["dense", "dense", None]
    assert [r["test_accuracy"] for r in rows] == [0.97, None, None]
