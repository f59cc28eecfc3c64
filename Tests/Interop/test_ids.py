"""The server's ids come from libuuid, which draws from getrandom(): no file is opened per id —
seen at the system-call level, beside Foundation's UUID(), which opens /dev/urandom for each."""
import shutil
import subprocess

import pytest

from conftest import palisade_binary


def urandom_opens(generator, count):
    result = subprocess.run(["strace", "-f", "-e", "trace=openat", palisade_binary(), "bench", "ids",
                             "--generator", generator, "--count", str(count)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stderr.count('"/dev/urandom"')


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_libuuid_opens_no_file_per_id():
    # Start-up opens it a few times whatever the count; ids add nothing.
    assert urandom_opens("libuuid", 500) == urandom_opens("libuuid", 1)
    assert urandom_opens("foundation", 500) - urandom_opens("foundation", 1) >= 499, \
        "the trace would see a file opened per id"
