"""A holder behind a stalled network: its TCP connections stop moving without closing. The lease's
client-side deadline must still end everything the client does for the lease: `palisade lock run`
sends its command SIGTERM before the server can hand the lock to anyone else, and exits 76."""
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import call, palisade_binary

TTL_SECONDS = 3


class StallingProxy:
    """Forwards TCP connections on loopback to `port` until `stall()`; from then on it moves no
    byte either way and closes nothing, like a network whose packets are dropped."""

    def __init__(self, port):
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stalled = threading.Event()
        self.closed = threading.Event()
        self.sockets = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def stall(self):
        self.stalled.set()

    def close(self):
        self.closed.set()
        for each in self.sockets:
            each.close()

    def _accept(self):
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink):
        while not self.closed.is_set():
            if self.stalled.is_set():
                self.closed.wait()
                return
            try:
                data = source.recv(65536)
                if not data:
                    return
                while self.stalled.is_set() and not self.closed.is_set():
                    self.closed.wait(0.1)
                sink.sendall(data)
            except OSError:
                return


@pytest.mark.parametrize("transport", ["http", "session"])
def test_lock_run_behind_a_stalled_network_is_stopped_before_anyone_else_gets_the_lock(server, transport):
    proxy = StallingProxy(server.port)
    folder = tempfile.mkdtemp(prefix="palisade-stall-")
    started, terminated = os.path.join(folder, "started"), os.path.join(folder, "terminated")
    script = (f"trap 'date +%s.%N > {terminated}; exit 0' TERM; touch {started}; "
              "while true; do sleep 0.05; done")
    name = f"stall/{transport}"
    environment = dict(server.environment, PALISADE_ENDPOINT=f"http://127.0.0.1:{proxy.port}")
    arguments = [palisade_binary(), "lock", "run", name, "--ttl", f"{TTL_SECONDS}s", "--wait", "10s"]
    holder = subprocess.Popen(arguments + (["--session"] if transport == "session" else []) + ["--", "sh", "-c", script],
                              env=environment, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(started):
            assert time.monotonic() < deadline and holder.poll() is None, "the command never started"
            time.sleep(0.02)
        time.sleep(1.5)  # a keep-alive or two go through
        proxy.stall()
        stalled_at = time.time()

        status, lease = call(server, "POST", "/_palisade/v1/leases", {"ttl_ms": 30000})
        assert status == 201
        status, grant = call(server, "POST", "/_palisade/v1/locks/acquire",
                             {"name": name, "lease_id": lease["lease_id"], "wait_ms": 20000})
        granted_at = time.time()
        assert status == 200, grant

        code = holder.wait(timeout=20)
        exited_at = time.time()
        assert code == 76, holder.stderr.read().decode()
        assert os.path.exists(terminated), "the command got no SIGTERM"
        terminated_at = float(open(terminated).read())
        print(f"\n{transport}: SIGTERM {terminated_at - stalled_at:.2f} s after the stall, "
              f"{granted_at - terminated_at:.2f} s before the next holder's grant; "
              f"lock run exited {exited_at - stalled_at:.2f} s after the stall")
        assert terminated_at < granted_at, "the stalled holder ran on while another held the lock"
        assert terminated_at - stalled_at <= TTL_SECONDS, "SIGTERM came later than one TTL after the stall"
        assert exited_at - stalled_at <= TTL_SECONDS + 2
        call(server, "DELETE", f"/_palisade/v1/leases/{lease['lease_id']}")
    finally:
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)  # palisade and its command
        proxy.close()
