"""A Reclaim frame: the worker hands back every request it received but has not started."""

import struct

from workerkit import P, base_environ


def handed_back(master) -> list[list[int]]:
    frames = [f for f in master.frames() if f[0] == P.RECLAIMED]
    return [[s for (s,) in struct.iter_unpack("<I", payload)] for _, _, _, payload in frames]


def test_reclaim_hands_back_the_queued_requests_and_keeps_the_started_one(master):
    for stream in (1, 2, 3):
        master.request(stream, base_environ(PATH_INFO=f"/{stream}"))
    while len(master.conn.pending) < 3:
        master.conn.read_once(True)
    started = master.conn.pending.popleft()  # the serving loop took the first one

    master.send(P.RECLAIM, 0, 0)
    master.conn.read_once(True)

    assert started.stream == 1
    assert handed_back(master) == [[2, 3]]
    assert not master.conn.pending


def test_reclaim_with_nothing_queued_answers_an_empty_list(master):
    master.send(P.RECLAIM, 0, 0)
    master.conn.read_once(True)
    assert handed_back(master) == [[]]


def test_reclaim_asks_the_threaded_loop_which_requests_it_may_give_up(master):
    master.conn.on_reclaim = lambda: [7]
    master.send(P.RECLAIM, 0, 0)
    master.conn.read_once(True)
    assert handed_back(master) == [[7]]
