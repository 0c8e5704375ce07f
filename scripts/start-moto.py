"""Starts moto on a free loopback port and prints its endpoint once it answers.

Used by scripts/demo and scripts/bench. moto stops when this script's stdin closes or it
gets SIGTERM, so a crashed caller never leaves it behind.
"""
import os
import signal
import socket
import subprocess
import sys
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
moto = subprocess.Popen([os.path.join(root, ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
signal.signal(signal.SIGTERM, lambda *_: (moto.kill(), sys.exit(0)))
for _ in range(400):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.025)
print(f"http://127.0.0.1:{port}", flush=True)
try:
    sys.stdin.read()
finally:
    moto.kill()
