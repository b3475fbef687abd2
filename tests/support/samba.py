"""A real SMB share on loopback: Debian's smbd serving a test folder (environment.md, Samba).

Unprivileged port, foreground, everything (config, pid, locks, passdb, logs) in one temp
folder, `rpc start on demand helpers = no` so no samba-dcerpcd outlives it, started in its own
session so stopping it never signals the test's process group.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.wait import wait_until

INSTALL_HINT = "install samba smbclient rsync rclone (apt-get)"


def require_tools(*names: str) -> dict[str, str]:
    """Absolute paths of the tools, or FAIL (never skip) the test saying what to install."""
    found = {name: shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin") for name in names}
    missing = [name for name, path in found.items() if not path]
    if missing:
        pytest.fail(f"{INSTALL_HINT}: {', '.join(missing)} not found on PATH")
    return {name: str(path) for name, path in found.items()}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class SambaShare:
    host: str
    port: int
    share: str
    user: str
    password: str
    path: Path        # the folder the share serves
    conf: Path

    @property
    def unc(self) -> str:
        return f"//{self.host}/{self.share}"

    def smbclient(self, commands: str, *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run smbclient commands (`put a b; mkdir c`) against the share; raises on failure."""
        tools = require_tools("smbclient")
        return subprocess.run(
            [tools["smbclient"], self.unc, "-p", str(self.port), "-U", f"{self.user}%{self.password}",
             "-s", str(self.conf), "-c", commands],
            check=True, capture_output=True, text=True, timeout=timeout)

    def smbclient_args(self, commands: str) -> list[str]:
        return [require_tools("smbclient")["smbclient"], self.unc, "-p", str(self.port),
                "-U", f"{self.user}%{self.password}", "-s", str(self.conf), "-c", commands]


def _conf(work: Path, share_path: Path, port: int) -> str:
    return f"""[global]
  smb ports = {port}
  interfaces = lo
  bind interfaces only = yes
  disable netbios = yes
  rpc start on demand helpers = no
  server role = standalone server
  pid directory = {work}/pid
  lock directory = {work}/lock
  state directory = {work}/state
  cache directory = {work}/cache
  private dir = {work}/private
  ncalrpc dir = {work}/ncalrpc
  passdb backend = tdbsam:{work}/private/passdb.tdb
  log file = {work}/log.%m
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  map to guest = never

[inbox]
  path = {share_path}
  read only = no
  force user = root
"""


@contextmanager
def samba_share(share_path: Path, work: Path, *, password: str = "pw") -> Iterator[SambaShare]:
    """Serve `share_path` as //127.0.0.1/inbox on a free loopback port until the block ends."""
    tools = require_tools("smbd", "smbpasswd", "smbclient")
    work.mkdir(parents=True, exist_ok=True)
    for sub in ("pid", "lock", "state", "cache", "private", "ncalrpc"):
        (work / sub).mkdir(exist_ok=True)
    port = free_port()
    conf = work / "smb.conf"
    conf.write_text(_conf(work, share_path, port))
    subprocess.run([tools["smbpasswd"], "-c", str(conf), "-s", "-a", "root"],
                   input=f"{password}\n{password}\n", check=True, capture_output=True, text=True, timeout=30)
    log = open(work / "smbd.out", "wb")
    proc = subprocess.Popen(
        [tools["smbd"], "--foreground", "--no-process-group", "--debug-stdout", "-s", str(conf)],
        stdin=subprocess.DEVNULL,  # smbd --foreground exits when a piped stdin closes
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def listening() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"smbd exited: {(work / 'smbd.out').read_text(errors='replace')[-2000:]}")
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0
        wait_until(listening, 20, f"smbd listening on 127.0.0.1:{port}")
        yield SambaShare("127.0.0.1", port, "inbox", "root", password, share_path, conf)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
