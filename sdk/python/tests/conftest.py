"""Starts a real ``spaces serve`` on a fresh SPACES_HOME for the tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # Import the SDK from its source folder.

from agent_spaces import connect  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
BINARY = os.environ.get("SPACES_BIN") or str(REPO / ".build/debug/spaces")


class Server:
    """A ``spaces serve`` process with its own home."""

    def __init__(self) -> None:
        if not os.path.exists(BINARY):
            pytest.fail(f"no spaces binary at {BINARY}: run swift build first")
        self.home = tempfile.mkdtemp(prefix="spaces-sdk-py-")
        self.log = tempfile.TemporaryFile()  # Not a pipe: a full pipe would block the server.
        self.process = subprocess.Popen(
            [BINARY, "serve"], env={**os.environ, "SPACES_HOME": self.home},
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 20
        while not self._answers():
            if self.process.poll() is not None:
                self.log.seek(0)
                pytest.fail(f"spaces serve exited: {self.log.read().decode()}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail("spaces serve did not answer on its socket within 20 s")
            time.sleep(0.05)

    def _answers(self) -> bool:
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(os.path.join(self.home, "spaces.sock"))
                return True
            except OSError:
                return False

    def connect(self, **options):  # type: ignore[no-untyped-def]
        """Connects to this server (see ``agent_spaces.connect``)."""
        return connect(home=self.home, **options)

    def kill(self) -> None:
        """Kills the server at once (no clean shutdown)."""
        self.process.send_signal(signal.SIGKILL)

    def stop(self) -> None:
        """Stops the server and removes its home."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """One server for the session, with a permissive space ``work``, a restrictive ``locked``
    and a standard ``asks``, all on the host backend."""
    import asyncio

    started = Server()

    async def create() -> None:
        async with started.connect(role="supervisor") as client:
            await client.create_space("work", policy="permissive", backend="host")
            await client.create_space("locked", policy="restrictive", backend="host")
            await client.create_space("asks", policy="standard", backend="host")

    asyncio.run(create())
    yield started
    started.stop()


@pytest.fixture
def fresh_server() -> Iterator[Server]:
    """A server of its own, for a test that kills it."""
    started = Server()
    yield started
    started.stop()
