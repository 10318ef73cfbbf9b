"""AppTests for the classroom roles: two students and a teacher, links, caps, names, login."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnistkit import jobs, ownership
from mnistkit.config import TrainConfig
from mnistkit.jobs import JobQueue, find_job
from mnistkit.limits import LessonLimits, save_limits
from mnistkit.ownership import Actor
from mnistkit.runs import RunStore
from tests.test_plain_text import assert_no_html

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "app_pages"
CODE = "owl-piano-seven"
ADA, BOB, TEACHER = "a" * 22, "b" * 22, "t" * 22  # browser secrets (the cookie's value)


def page(name: str, secret: str, **query) -> AppTest:
    """A page as one browser sees it: its secret is what the cookie would bring back."""
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=60)
    at.session_state["identity_secret"] = secret
    at.query_params.update(query)
    return at.run()


def owned_run(root: Path, secret: str, name: str, acc: float = 0.9) -> str:
    """A finished run owned by the browser with this secret (no training needed)."""
    store = RunStore(root)
    key = ownership.server_key(store.root)
    actor = Actor(ownership.owner_id(key, secret), name=name.title())
    run_dir = store.create(
        name,
        TrainConfig(arch="dense", epochs=1, subset=300).to_dict(),
        owner=lambda run_id: ownership.owner_fields(key, actor, run_id),
    )
    store.write_metrics(run_dir, {"test_accuracy": acc, "params": 1000, "epochs_run": 1})
    store.write_history(run_dir, {"loss": [1.0], "accuracy": [acc]})
    store.set_status(run_dir, "completed")
    return run_dir.name


@pytest.fixture(autouse=True)
def fresh_gates(monkeypatch):
    """Each test starts with nobody unlocked (the gates are process-wide)."""
    from mnistkit import teacher

    monkeypatch.setattr(teacher, "_gates", {})


@pytest.fixture
def classroom(runs_dir, monkeypatch):
    """A server with a teacher code, a queue whose only slot is taken (jobs stay queued)."""
    monkeypatch.setenv("MNISTKIT_TEACHER_CODE", CODE)
    queue = JobQueue(slots=1)
    queue._running.add(object())  # someone else's long training holds the slot
    monkeypatch.setattr(jobs, "_queue", queue)
    monkeypatch.setattr(jobs, "_jobs", {})
    yield runs_dir
    for job in jobs.all_jobs():
        job.stop()


def unlock(at: AppTest, code: str = CODE) -> AppTest:
    at.text_input(key="teacher_code_input").input(code)
    return at.button[0].click().run()


def start(at: AppTest, **form) -> AppTest:
    for key, value in {"arch": "dense", "subset": 300, "epochs": 1, **form}.items():
        widget = next(
            w
            for kind in ("radio", "slider", "select_slider")
            for w in getattr(at, kind)
            if w.key == f"train_{key}"
        )
        widget.set_value(value)
    at.run()
    return at.button(key="train_start").click().run()


def test_students_change_only_their_own_runs(classroom):
    ada_run, bob_run = owned_run(classroom, ADA, "ada"), owned_run(classroom, BOB, "bob")
    bob = page("compare", BOB)
    assert not bob.exception
    assert bob.selectbox(key="compare_delete").options == [bob_run]  # never Ada's
    labels = " ".join(bob.multiselect(key="compare_runs").options)
    assert "Ada" in labels and "Bob" in labels  # both are there to compare with

    bob.multiselect(key="compare_runs").set_value([ada_run, bob_run]).run()
    bob.selectbox(key="compare_focus").set_value(ada_run).run()
    assert not bob.get("download_button")  # Ada's downloads and rename are Ada's
    assert "compare_rename_button" not in [b.key for b in bob.button]
    bob.selectbox(key="compare_focus").set_value(bob_run).run()
    assert [b.proto.label for b in bob.get("download_button")] == ["History (.csv)"]  # no model
    bob.text_input(key=f"compare_rename-{bob_run}").input("<b>mine</b>").run()
    bob.button(key="compare_rename_button").click().run()
    assert RunStore(classroom).load(bob_run).name == "<b>mine</b>"
    assert_no_html(bob)

    teacher = unlock(page("teacher", TEACHER))
    assert not teacher.exception and teacher.tabs
    table = teacher.dataframe[0].value
    assert set(table["owner"]) == {"Ada", "Bob"}
    compare = page("compare", TEACHER)
    assert set(compare.selectbox(key="compare_delete").options) == {ada_run, bob_run}
    compare.selectbox(key="compare_delete").set_value(ada_run).run()
    compare.checkbox(key="compare_confirm").check().run()
    compare.button(key="compare_delete_button").click().run()
    assert "Deleted" in compare.success[0].value
    assert [i.run_id for i in RunStore(classroom).list()] == [bob_run]


def test_runs_from_before_owners_are_the_teachers_when_a_code_is_set(
    runs_dir, make_run, monkeypatch
):
    make_run(runs_dir, "20250101-000000-old")
    assert page("compare", ADA).selectbox(key="compare_delete").options == ["20250101-000000-old"]
    monkeypatch.setenv("MNISTKIT_TEACHER_CODE", CODE)
    at = page("compare", ADA)
    assert "compare_delete" not in [s.key for s in at.selectbox]
    assert "(no owner)" in " ".join(at.multiselect(key="compare_runs").options)


def test_a_job_follows_its_owner_and_a_copied_link_gives_nothing(classroom):
    ada = start(page("train", ADA))
    assert not ada.exception
    job_id = ada.session_state["job_id"]
    assert "job" not in ada.query_params  # the job id is never put in a link
    assert find_job(job_id).snapshot().status == "queued"

    reloaded = page("train", ADA)  # a reload, or a page switch that dropped the URL
    assert reloaded.session_state["job_id"] == job_id
    assert reloaded.button(key="train_stop").disabled is False

    second_tab = page("train", ADA)  # a second tab of Ada's: her job, Start not offered
    assert second_tab.session_state["job_id"] == job_id
    assert second_tab.button(key="train_start").disabled is True
    assert len(jobs.jobs_of(find_job(job_id).owner)) == 1

    bob = page("train", BOB, job=job_id)  # Bob reuses Ada's old-style link
    assert not bob.exception
    assert "job_id" not in bob.session_state and "job" not in bob.query_params
    assert bob.button(key="train_stop").disabled is True
    assert "No training yet" in " ".join(c.value for c in bob.caption)
    bob_actor = Actor(ownership.owner_id(ownership.server_key(classroom), BOB))
    assert not ownership.may_control_job(bob_actor, find_job(job_id).owner)
    assert not find_job(job_id).progress.stop_requested

    teacher = unlock(page("teacher", TEACHER))
    assert teacher.selectbox(key="teacher_stop_job").value == job_id
    teacher.button(key="teacher_stop").click().run()
    assert find_job(job_id).progress.stop_requested


def test_queue_flooding_one_job_per_student_across_tabs(classroom):
    start(page("train", ADA))
    tab = page("train", ADA)
    tab.session_state["job_id"] = "forgotten"  # another tab that never saw the first job
    del tab.session_state["job_id"]
    owner = ownership.owner_id(ownership.server_key(classroom), ADA)
    jobs_before = len(jobs.jobs_of(owner))
    # a scripted start that bypasses the disabled button: the library refuses it
    from mnistkit.limits import LimitError, admit, load_limits

    with pytest.raises(LimitError, match="already have 1 training"):
        admit(
            TrainConfig(epochs=1),
            Actor(owner, teacher_code_set=True),
            load_limits(classroom),
            active_jobs=jobs.active_jobs,
            create=lambda: None,
        )
    assert len(jobs.jobs_of(owner)) == jobs_before == 1
    save_limits(classroom, LessonLimits(jobs_per_student=2))
    bob = start(page("train", BOB))
    assert not bob.error


def test_caps_refuse_an_oversized_run_in_one_sentence(classroom):
    save_limits(classroom, LessonLimits(max_epochs=2, max_images=1_000))
    at = start(page("train", ADA), epochs=5)
    assert at.error[0].value == "Not started: this lesson allows at most 2 epochs, not 5."
    assert jobs.all_jobs() == []
    at = start(at, epochs=2, subset=60_000)
    assert "at most 1,000 training images, not 60,000" in at.error[0].value
    teacher = unlock(page("teacher", TEACHER))
    assert teacher.tabs
    trainer = start(page("train", TEACHER), epochs=5)  # the teacher is never capped
    assert not trainer.error and len(jobs.all_jobs()) == 1


def test_lesson_link_opens_the_page_configured_with_controls_hidden(classroom):
    save_limits(classroom, LessonLimits(presets=("quick",), hidden=("seed",)))
    at = page(
        "train",
        ADA,
        preset="quick",
        arch="dense",
        epochs="3",
        subset="500",
        hide="optimizer,learning_rate,bogus",
        epochs_x="1",
    )
    assert not at.exception
    keys = {
        w.key for kind in ("selectbox", "select_slider", "number_input") for w in getattr(at, kind)
    }
    assert "train_optimizer" not in keys and "train_learning_rate" not in keys
    assert "train_seed" not in keys  # hidden by the lesson's limits
    assert at.slider(key="train_epochs").value == 3
    assert at.select_slider(key="train_subset").value == 500
    assert at.radio(key="train_arch").value == "dense"
    preset = at.selectbox(key="train_preset")  # the link changed the preset: it says so
    assert preset.options == ["quick lesson demo", "modified (your own settings)"]
    assert preset.value == "modified"
    assert "cannot use" in " ".join(c.value for c in at.caption)  # "bogus"
    at.slider(key="train_epochs").set_value(1).run()  # the student may still change a shown one
    assert at.slider(key="train_epochs").value == 1
    unlock(page("teacher", TEACHER))
    teacher = page("train", TEACHER, hide="optimizer")
    assert "train_seed" in {w.key for w in teacher.number_input}  # limits hide only for students

    evil = page("train", BOB, epochs="999999999999999999999", arch="<script>", teacher="1")
    assert not evil.exception and evil.slider(key="train_epochs").value != 999999999999999999999


def test_wrong_teacher_code_fifty_times(classroom):
    at = page("teacher", "e" * 22)
    for i in range(50):
        at = unlock(at, f"guess-{i}")
        assert not at.exception
        assert not at.tabs
    texts = " ".join(e.value for e in [*at.error, *at.warning])
    assert "wait" in texts
    assert all("guess" not in str(e.value) for e in [*at.error, *at.warning, *at.markdown])
    assert at.text_input(key="teacher_code_input").value == ""
    teacher = unlock(page("teacher", TEACHER))  # another session: the teacher still gets in
    assert teacher.tabs or "wait" in " ".join(e.value for e in teacher.error)


def test_no_teacher_code_explains_how(runs_dir, monkeypatch):
    monkeypatch.delenv("MNISTKIT_TEACHER_CODE", raising=False)
    at = page("teacher", ADA)
    assert not at.exception
    assert "no teacher code" in at.info[0].value
    assert "MNISTKIT_TEACHER_CODE" in at.code[0].value


def test_projector_is_large_type_with_nothing_to_press(classroom):
    run = owned_run(classroom, ADA, "ada", acc=0.93)
    owned_run(classroom, BOB, "bob", acc=0.97)
    at = page("teacher", ADA, view="projector")
    assert not at.exception and not at.button and not at.text_input
    first, second = (h.value.replace("\\", "") for h in at.header[:2])
    assert first == "1. Bob: 97.0% (Dense, 1,000 parameters)"
    assert second == "2. Ada: 93.0% (Dense, 1,000 parameters)"
    one = page("teacher", ADA, view="projector", run=run)
    assert "Ada" in one.title[0].value and len(one.get("vega_lite_chart")) >= 1


def _app(secret: str | None = None, **user) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    if secret:
        at.session_state["identity_secret"] = secret
    if user:
        at.user = user
    return at.run()


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>"),
        ("**Eve** [x](javascript:1)", "**Eve** [x](javascript:1)"),
        ("Zoë\u202e\x00\x1b", "Zoë"),
    ],
)
def test_display_names_are_plain_text(runs_dir, typed, shown):
    at = _app(ADA)
    at.text_input(key="identity_name").input(typed).run()
    assert not at.exception
    assert at.text_input(key="identity_name").value == shown
    owner = ownership.owner_id(ownership.server_key(runs_dir), ADA)
    assert ownership.NameBook(runs_dir).get(owner) == shown
    assert_no_html(at)
    again = _app(ADA)  # another session of the same browser: the name follows
    assert again.text_input(key="identity_name").value == shown


def test_a_ten_thousand_character_name_is_refused_by_the_field(runs_dir):
    """The field holds at most NAME_MAX characters (the library cuts longer ones too:
    test_ownership.py::test_name_book_round_trip_and_damage)."""
    at = _app(ADA)
    at.text_input(key="identity_name").input("Ada").run()
    at.text_input(key="identity_name").input("x" * 10_000).run()
    assert not at.exception
    assert at.text_input(key="identity_name").value == "Ada"


def test_login_account_is_the_owner(runs_dir, tmp_path, monkeypatch):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback"}
    at.user = {"is_logged_in": True, "sub": "oidc-123", "name": "Ada Account", "email": "a@x"}
    at.run()
    assert not at.exception
    assert "Logged in as Ada Account" in " ".join(c.value for c in at.caption)
    assert [b.key for b in at.button if b.key == "identity_logout"]
    key = ownership.server_key(runs_dir)
    assert at.text_input(key="identity_name").value == "Ada Account"

    out = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    out.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback"}
    out.user = {"is_logged_in": False}
    out.run()
    assert [b.key for b in out.button if b.key == "identity_login"]
    assert ownership.owner_id(key, "oidc-123", "account") != ownership.owner_id(key, "oidc-123")
