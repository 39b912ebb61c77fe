"""The output backlog: jobs in order on one worker thread, bounded, failures reported."""
import threading

import pytest
import torch

from stream_core.engine.backlog import Backlog


def test_jobs_run_in_order_on_one_other_thread_in_the_callers_inference_mode():
    backlog, seen = Backlog(limit=2), []
    with torch.inference_mode():
        for i in range(20):
            backlog.submit(lambda i=i: seen.append((i, threading.current_thread().name,
                                                    torch.is_inference_mode_enabled())))
    backlog.drain()
    backlog.close()
    assert [i for i, _, _ in seen] == list(range(20))
    assert {name.split("_")[0] for _, name, _ in seen} == {"streamdit-output"}
    assert all(inference for _, _, inference in seen)


def test_submit_returns_while_the_job_runs_and_waits_once_limit_jobs_wait():
    backlog, release, started = Backlog(limit=2), threading.Event(), threading.Event()
    backlog.submit(lambda: (started.set(), release.wait(10)))
    started.wait(10)
    backlog.submit(lambda: None)          # one running, one waiting: returns at once
    blocked = threading.Thread(target=backlog.submit, args=(lambda: None,))
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive()             # a third waits for the oldest to finish
    release.set()
    blocked.join(10)
    assert not blocked.is_alive()
    backlog.drain()
    backlog.close()


def test_a_failed_job_is_raised_by_the_next_submit_or_drain_and_later_jobs_still_run():
    backlog, seen = Backlog(limit=4), []
    backlog.submit(lambda: seen.append(1))
    backlog.submit(lambda: (_ for _ in ()).throw(OSError("disk full")))
    backlog.submit(lambda: seen.append(3))
    with pytest.raises(OSError, match="disk full"):
        backlog.drain()
    backlog.submit(lambda: seen.append(4))   # reported once: the backlog goes on
    backlog.close()                           # waits for what is queued
    assert seen == [1, 3, 4]


def test_close_waits_for_the_jobs_queued():
    backlog, seen = Backlog(limit=3), []
    for i in range(3):
        backlog.submit(lambda i=i: (threading.Event().wait(0.05), seen.append(i)))
    backlog.close()
    assert seen == [0, 1, 2]


def test_a_backlog_holds_at_least_one_job():
    with pytest.raises(ValueError, match="at least one job"):
        Backlog(limit=0)
