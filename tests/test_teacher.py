"""The teacher code: constant-time check, per-session and global slow-down, unlock by owner."""

from __future__ import annotations

from mnistkit import teacher
from mnistkit.teacher import TeacherGate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_no_code_means_no_teacher():
    gate = TeacherGate(None)
    assert not gate.enabled
    assert not gate.try_code("", "s", "o").ok
    assert not gate.is_teacher("o")


def test_right_code_unlocks_that_owner_only():
    gate = TeacherGate("owl-piano-7")
    assert gate.try_code("owl-piano-7", "s1", "teacher").ok
    assert gate.is_teacher("teacher") and not gate.is_teacher("student")
    gate.lock("teacher")
    assert not gate.is_teacher("teacher")


def test_fifty_wrong_tries_slow_down_and_never_unlock():
    clock = Clock()
    gate = TeacherGate("owl-piano-7", clock=clock)
    refused = waited = 0
    for i in range(50):
        attempt = gate.try_code(f"guess-{i}", "s1", "eve")
        assert not attempt.ok
        if attempt.wait_s > 0 and gate.wait_s("s1") > 0:
            refused += 1
        waited += attempt.wait_s
        clock.now += 0.5
    assert not gate.is_teacher("eve")
    assert refused >= 40  # after 3 free tries nearly every try comes too early
    assert gate.wait_s("s1") <= teacher.MAX_WAIT_S
    # the same flood from fresh sessions hits the global spacing instead
    for i in range(30):
        gate.try_code("nope", f"fresh-{i}", "eve")
    assert gate.wait_s("another-fresh-session") > 0
    clock.now += teacher.GLOBAL_SPACING_S
    assert gate.try_code("owl-piano-7", "teacher-tab", "teacher").ok  # the teacher still gets in


def test_a_session_waits_longer_after_each_wrong_try():
    clock = Clock()
    gate = TeacherGate("code", clock=clock)
    waits = []
    for _ in range(7):
        clock.now += gate.wait_s("s") + 0.01
        waits.append(gate.try_code("wrong", "s", "o").wait_s)
    assert waits[:2] == [0.0, 0.0]  # typos are free
    assert waits[2:] == sorted(waits[2:]) and waits[-1] > waits[2] > 0


def test_gate_for_shares_one_gate_per_code():
    assert teacher.gate_for("a") is teacher.gate_for("a")
    assert teacher.gate_for("a") is not teacher.gate_for("b")
    assert not teacher.gate_for(None).enabled
