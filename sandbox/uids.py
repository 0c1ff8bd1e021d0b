"""Host-wide uid slots: two `Sandbox` pools on one machine (a server and a batch job, say) never share a uid.

A slot is `SLOT` consecutive uids; each worker of a pool holds one, and gives every live child of its own a
distinct uid from it (see `live.Uids`). A pool leases its slots with an exclusive `flock` on one file per slot in
a root-only directory: the kernel drops the lock when the holder exits, however it exits, so a crashed pool frees
its slots and nothing needs cleaning up. A slot some process still runs as (children of a pool that just died)
is skipped.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .types import SandboxError

SLOT = 64  # uids per worker: its live session children, the snippet running, the spare being prepared
MAX_SLOTS = 4096
LOCK_DIRS = ("/run/sandbox-uids", "/var/tmp/sandbox-uids")
_RESERVED = (65534, 65535)  # nobody / nogroup and the historic (uid_t)-1 of 16-bit uids


class UidLease:
    """Slots held by one pool until `release` (or until the process exits)."""

    def __init__(self, slots: list[tuple[int, int]]) -> None:
        self._slots = slots  # (first uid, lock fd)

    def uids(self, index: int) -> list[int]:
        first = self._slots[index][0]
        return list(range(first, first + SLOT))

    @property
    def all_uids(self) -> list[int]:
        return [u for first, _ in self._slots for u in range(first, first + SLOT)]

    def release(self) -> None:
        for _, fd in self._slots:
            try:
                os.close(fd)
            except OSError:
                pass
        self._slots = []


def lease(count: int, base: int) -> UidLease:
    """Lease `count` slots at or above `base`. Raises SandboxError when none is free or no lock directory works."""
    lock_dir = _lock_dir()
    busy = _running_uids()
    got: list[tuple[int, int]] = []
    try:
        for k in range(MAX_SLOTS):
            first = base + k * SLOT
            if any(first <= r < first + SLOT for r in _RESERVED):
                continue
            fd = os.open(lock_dir / f"{first}.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            if any(first <= u < first + SLOT for u in busy):
                os.close(fd)  # processes of a pool that just went away still run as these uids
                continue
            got.append((first, fd))
            if len(got) == count:
                return UidLease(got)
    except BaseException:
        UidLease(got).release()
        raise
    UidLease(got).release()
    raise SandboxError(f"no free uid slot of {SLOT} uids at or above {base} ({MAX_SLOTS} tried)")


def _lock_dir() -> Path:
    problems = []
    for candidate in LOCK_DIRS:
        d = Path(candidate)
        try:
            d.mkdir(mode=0o700, exist_ok=True)
            st = d.stat()
            if st.st_uid != os.geteuid() or st.st_mode & 0o077:
                raise PermissionError(f"{d} must be owned by uid {os.geteuid()} and private (0700)")
            return d
        except OSError as e:
            problems.append(f"{d}: {e}")
    raise SandboxError("no directory for uid slot locks: " + "; ".join(problems))


def _running_uids() -> set[int]:
    """Real and effective uids of every process on the host (as far as /proc shows them)."""
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        found.update(int(u) for u in line.split()[1:3])
                        break
        except OSError:
            continue
    return found
