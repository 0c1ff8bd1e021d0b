"""Isolation layers, one small function each. Worker-level layers run once in the warm worker and every child
inherits them; child-level layers run in each forked child before the snippet.

Worker level (inherited, so free per snippet):
    `enter_netns`   private network namespace: no interfaces up, not even loopback.
    `enter_ipcns`   private SysV IPC namespace, with orphaned shm segments destroyed.
    `enter_mountns` private mount namespace, so per-child tmpfs mounts stay invisible to the host.
Child level:
    `Workdir`       a fresh size-capped tmpfs (or, without a mount namespace, a fresh directory) per child.
    `set_rlimits`   address space, CPU, file size, open files, processes/threads, core dumps.
    `drop_user`     a per-worker unprivileged uid/gid, no supplementary groups.
    Landlock and seccomp live in `landlock.py` and `seccomp.py`.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile

from . import linux


def enter_netns() -> None:
    linux.unshare(linux.CLONE_NEWNET)


def enter_ipcns() -> None:
    linux.unshare(linux.CLONE_NEWIPC)
    # Per-namespace sysctl: a segment nobody is attached to dies with its last user instead of lingering.
    with open("/proc/sys/kernel/shm_rmid_forced", "w") as f:
        f.write("1")


def enter_mountns(base: str) -> None:
    """Private mount namespace with a small root-owned tmpfs on `base` to hold the per-child mount point."""
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE, None)
    flags = linux.MS_NOSUID | linux.MS_NODEV
    linux.mount("tmpfs", base, "tmpfs", flags, "size=64k,nr_inodes=16,mode=0755")
    os.mkdir(os.path.join(base, "sandbox"), 0o755)
    # Read-only from now on: per-child tmpfs mounts still stack on it, but nothing can be left behind in it.
    linux.mount(None, base, None, flags | linux.MS_REMOUNT | linux.MS_RDONLY, None)


class Workdir:
    """The child's private working directory at one fixed path, emptied between children.

    With a mount namespace each child gets a new tmpfs capped at `size_mb` (the only thing that stops a disk
    fill: RLIMIT_FSIZE caps one file, not many); without one, a fresh directory under the host's temp dir.
    """

    def __init__(self, path: str | None, size_mb: int, uid: int, gid: int, use_tmpfs: bool) -> None:
        self.use_tmpfs = use_tmpfs
        self.path = path if path else tempfile.mkdtemp(prefix="sandbox-")
        # Landlock ignores rules on a mount point itself (the mounted fs hides it), so the write rule for a
        # per-child tmpfs goes on its parent: the read-only base tmpfs, where nothing else is writable.
        self.landlock_path = os.path.dirname(self.path) if use_tmpfs else self.path
        self._opts = f"size={size_mb}m,nr_inodes=4096,mode=0700,uid={uid},gid={gid}"
        self._uid, self._gid = uid, gid

    def prepare(self) -> None:
        if self.use_tmpfs:
            linux.mount("tmpfs", self.path, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, self._opts)
        else:
            os.chmod(self.path, 0o700)
            if os.geteuid() == 0:
                os.chown(self.path, self._uid, self._gid)

    def cleanup(self) -> None:
        if self.use_tmpfs:
            linux.umount(self.path)
            return
        for name in os.listdir(self.path):
            p = os.path.join(self.path, name)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)


def rlimits(memory_mb: int, cpu_s: int, file_mb: int, open_files: int, processes: int) -> dict[int, int]:
    """Soft = hard for each limit, so the child cannot raise any of them back."""
    return {
        resource.RLIMIT_AS: memory_mb << 20,
        resource.RLIMIT_CPU: cpu_s,
        resource.RLIMIT_FSIZE: file_mb << 20,
        resource.RLIMIT_NOFILE: open_files,
        resource.RLIMIT_NPROC: processes,  # counts threads too; ignored for uid 0, hence `drop_user`
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_MEMLOCK: 0,
        resource.RLIMIT_MSGQUEUE: 0,
    }


def set_rlimits(limits: dict[int, int]) -> None:
    for res, value in limits.items():
        soft, hard = resource.getrlimit(res)
        # Never ask for more than the current hard limit: without CAP_SYS_RESOURCE that fails.
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        # CPU: SIGXCPU at the soft limit (reported as a timeout), SIGKILL a second later if it is ignored.
        new_hard = value + 1 if res == resource.RLIMIT_CPU and hard == resource.RLIM_INFINITY else value
        resource.setrlimit(res, (value, new_hard))


def drop_user(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
        raise OSError("could not drop privileges")
