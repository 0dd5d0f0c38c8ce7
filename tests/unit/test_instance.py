"""The profile lock: one `csmc run` per profile, and who holds it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.instance import ProfileInUse, ProfileLock, read_owner, sidecars_on_port


def test_a_second_lock_on_a_profile_names_the_first_holder(csmc_home: Path) -> None:
    first = ProfileLock("live")
    first.acquire(5555)
    first.record_account("51234567 on Demo-Server")
    try:
        with pytest.raises(ProfileInUse) as error:
            ProfileLock("live").acquire(5556)
        owner = error.value.owner
        assert owner is not None
        assert (owner.pid, owner.port, owner.account) == (os.getpid(), 5555, "51234567 on Demo-Server")
        assert "127.0.0.1:5555" in str(error.value) and f"pid {os.getpid()}" in str(error.value)
        assert [o.profile for o in sidecars_on_port(5555)] == ["live"]
        ProfileLock("other").acquire(5557)  # another profile is not affected
    finally:
        first.release()
    second = ProfileLock("live")
    second.acquire(5556)
    second.release()


def test_the_lock_of_a_process_that_died_is_free(csmc_home: Path) -> None:
    code = "from sidecar.instance import ProfileLock; ProfileLock('gone').acquire(6000); import os; os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ), timeout=30)

    lock = ProfileLock("gone")
    assert lock.is_free()
    owner = read_owner(lock.path)
    assert owner is not None and owner.port == 6000  # the record stays, but nobody holds the lock
    assert sidecars_on_port(6000) == []
