"""Fixtures of the Improv tests: the device on a pseudo-terminal and the real client."""

import shutil

import pytest
from helpers.improv import SDK, Client, SerialDevice


@pytest.fixture
def device(micropython):
    dev = SerialDevice(micropython)
    yield dev
    dev.stop()


@pytest.fixture
def client(device):
    if shutil.which("node") is None or not SDK.exists():
        pytest.skip("no Node or no Improv SDK at %s: run `make test`, which installs it" % SDK)
    c = Client(device)
    yield c
    c.close()
