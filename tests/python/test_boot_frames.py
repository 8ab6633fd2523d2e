"""Frames that arrive together with the configuration are not left unread in the buffer."""

import marshal
import socket

from workerkit import HEADER, P, base_environ

from lanner.worker.main import read_config


def test_a_stop_that_came_with_the_configuration_is_seen_without_more_input(master):
    # The master stopped the worker while it booted: CONFIG and STOP reach it in one read.
    config = marshal.dumps({"app": "x:app"})
    master.sock.sendall(HEADER.pack(len(config), P.CONFIG, 0, 0) + config + HEADER.pack(0, P.STOP, 0, 0))
    assert read_config(master.conn) == {"app": "x:app"}

    master.conn.sock.settimeout(2)  # a worker waiting for more input would block here forever
    try:
        master.conn.read_once(True)
    except socket.timeout:
        raise AssertionError("the STOP already in the buffer was not routed") from None
    assert master.conn.stopping


def test_a_request_that_came_with_the_configuration_is_queued(master):
    config = marshal.dumps({"app": "x:app"})
    master.sock.sendall(HEADER.pack(len(config), P.CONFIG, 0, 0) + config)
    master.request(5, base_environ())
    read_config(master.conn)
    master.conn.sock.settimeout(2)
    while not master.conn.pending:
        master.conn.read_once(True)
    assert [r.stream for r in master.conn.pending] == [5]
