"""--cpu-scheduling: the worker switches itself to SCHED_BATCH, at a niceness above the master's,
before it imports the app."""

import os
import subprocess
import sys

import pytest

from workerkit import ROOT

from lanner.worker import main as worker_main

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux scheduling policies")


def scheduling_after(policy, started_with=None):
    """The policy and niceness of a fresh interpreter (started with the policy `started_with`, if
    given), and of a thread it starts, after apply_scheduling(policy); niceness as the change
    from the one it started with."""
    code = (
        "import os, sys, threading\n"
        "from lanner.worker.main import apply_scheduling\n"
        "start = os.getpriority(os.PRIO_PROCESS, 0)\n"
        f"apply_scheduling({policy!r}, 1)\n"
        "seen = []\n"
        "t = threading.Thread(target=lambda: seen.append((os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0)))); t.start(); t.join()\n"
        "print(os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0) - start, seen[0][0], seen[0][1] - start)\n"
    )
    def start_with():
        if started_with is not None:
            os.sched_setscheduler(0, started_with, os.sched_param(0))

    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT / "python")},
                         capture_output=True, text=True, check=True, preexec_fn=start_with).stdout
    return [int(v) for v in out.split()]


def test_batch_applies_to_the_worker_and_the_threads_it_starts():
    nice = worker_main.WORKER_NICE
    assert nice > 0
    assert scheduling_after("batch") == [os.SCHED_BATCH, nice, os.SCHED_BATCH, nice]


def test_batch_also_lowers_a_worker_the_master_started_as_batch():
    nice = worker_main.WORKER_NICE
    assert scheduling_after("batch", started_with=os.SCHED_BATCH) == [os.SCHED_BATCH, nice, os.SCHED_BATCH, nice]


@pytest.mark.parametrize("policy", ["normal", None])
def test_normal_or_absent_leaves_the_policy_alone(policy):
    assert scheduling_after(policy) == [os.SCHED_OTHER, 0, os.SCHED_OTHER, 0]


def test_batch_leaves_a_policy_chosen_by_whoever_started_the_worker():
    assert scheduling_after("batch", started_with=os.SCHED_IDLE) == [os.SCHED_IDLE, 0, os.SCHED_IDLE, 0]


def test_a_refused_switch_is_said_and_the_worker_goes_on(monkeypatch, capsys):
    def refuse(*_args):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(worker_main.os, "sched_setscheduler", refuse)
    monkeypatch.setattr(worker_main.os, "nice", refuse)
    worker_main.apply_scheduling("batch", 3)
    err = capsys.readouterr().err
    assert "lanner worker 3: cannot switch to SCHED_BATCH ([Errno 1] Operation not permitted); the normal policy stays" in err
    assert "lanner worker 3: cannot lower its priority ([Errno 1] Operation not permitted); it keeps the master's" in err
