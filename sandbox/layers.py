"""Isolation layers, one small function each. Worker-level layers run once in the warm worker and every child
inherits them; child-level layers run in each forked child before the snippet.

Worker level (inherited, so free per snippet):
    `enter_netns`   private network namespace: no interfaces up, not even loopback.
    `enter_ipcns`   private SysV IPC namespace, with orphaned shm segments destroyed.
    `enter_mountns` private mount namespace, so per-child mounts stay invisible to the host.
    `build_rootfs`  a read-only skeleton root holding only the interpreter, its libraries and two device nodes.
Child level:
    `enter_workdir` the child's own mount namespace, a fresh size-capped tmpfs as its cwd, chroot to the skeleton.
    `set_rlimits`   address space, CPU, file size, open files, processes/threads, core dumps.
    `drop_user`     a per-worker unprivileged uid/gid, no supplementary groups.
    Landlock and seccomp live in `landlock.py` and `seccomp.py`.
"""

from __future__ import annotations

import os
import resource

from . import linux


def enter_netns() -> None:
    linux.unshare(linux.CLONE_NEWNET)


def enter_ipcns() -> None:
    linux.unshare(linux.CLONE_NEWIPC)
    # Per-namespace sysctl: a segment nobody is attached to dies with its last user instead of lingering.
    with open("/proc/sys/kernel/shm_rmid_forced", "w") as f:
        f.write("1")


def enter_mountns(base: str, subdirs: tuple[str, ...]) -> None:
    """Private mount namespace with a small root-owned tmpfs on `base` holding empty `subdirs` (mount points)."""
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE, None)
    flags = linux.MS_NOSUID | linux.MS_NODEV
    linux.mount("tmpfs", base, "tmpfs", flags, "size=64k,nr_inodes=16,mode=0755")
    for name in subdirs:
        os.mkdir(os.path.join(base, name), 0o755)
    # Read-only from now on: per-child tmpfs mounts still stack on it, but nothing can be left behind in it.
    linux.mount(None, base, None, flags | linux.MS_REMOUNT | linux.MS_RDONLY, None)


def build_rootfs(root: str, dirs: list[str], devices: list[str], workdir: str) -> None:
    """Build the filesystem a child sees after `chroot(root)`: `dirs` and `devices` bind-mounted read-only at their
    own paths, an empty mount point at `workdir`, nothing else (no /proc, /etc, /home, host sockets).

    Every path-based call (stat, readlink, getxattr, connect to a socket path, ...) then resolves inside this
    tree, so host paths outside it do not exist for the child: what Landlock leaves open (metadata) is closed by
    not being there. Paths that do not exist are skipped; a host symlink (/lib -> usr/lib) is recreated as one.
    """
    flags = linux.MS_NOSUID | linux.MS_NODEV
    linux.mount("tmpfs", root, "tmpfs", flags, "size=1m,nr_inodes=4096,mode=0755")
    kept: list[str] = []
    for path in sorted({os.path.normpath(p) for p in dirs if os.path.exists(p)}):
        if not any(path.startswith(k.rstrip("/") + "/") for k in kept):  # already inside a bound parent
            kept.append(path)
    for path in kept:
        target = root + path
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if os.path.islink(path):
            os.symlink(os.readlink(path), target)
            continue
        os.mkdir(target, 0o755)
        _bind_readonly(path, target, flags)
    for dev in devices:
        if not os.path.exists(dev):
            continue
        target = root + dev
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        open(target, "w").close()
        _bind_readonly(dev, target, linux.MS_NOSUID)  # device nodes stay usable (no MS_NODEV): /dev/null
    os.makedirs(root + workdir, mode=0o755)
    linux.mount(None, root, None, flags | linux.MS_REMOUNT | linux.MS_RDONLY, None)


def _bind_readonly(source: str, target: str, flags: int) -> None:
    linux.mount(source, target, None, linux.MS_BIND | linux.MS_REC, None)
    linux.mount(None, target, None, flags | linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY, None)


def enter_workdir(mount_point: str | None, tmpfs_opts: str, root: str | None, workdir: str) -> None:
    """In the child: a private mount namespace with a fresh tmpfs at `mount_point` (the host-side path of
    `workdir`), then chroot to `root` when given, and chdir to `workdir`. The namespace, and with it the tmpfs,
    vanish when the child exits, so nothing needs cleaning up and nothing is left for the next child."""
    if mount_point is not None:
        linux.unshare(linux.CLONE_NEWNS)  # mounts are already private in the worker's namespace
        linux.mount("tmpfs", mount_point, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, tmpfs_opts)
    if root is not None:
        os.chroot(root)
    os.chdir(workdir)


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
