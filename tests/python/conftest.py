"""Fixtures of the worker tests."""

import pytest

from workerkit import FakeMaster


@pytest.fixture
def master():
    m = FakeMaster()
    yield m
    m.close()
