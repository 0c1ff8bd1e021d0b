"""A seccomp deny-list for the syscalls a math snippet never needs and an escape would, closed by class (all
socket calls, all asynchronous-I/O engines, all extended-attribute calls, ...) rather than call by call.

The worker compiles the filter once with libseccomp (`pyseccomp`) and keeps the BPF program; each child loads
that program with one prctl (~0.05 ms) instead of rebuilding it (~0.6 ms). Denied calls fail with EPERM, so
Python raises a clean `PermissionError` rather than the child dying mysteriously.
"""

from __future__ import annotations

import ctypes
import errno
import resource
import tempfile

from . import linux

DENY = (
    # New processes (threads stay allowed, see clone below) and new programs.
    "fork", "vfork", "execve", "execveat",
    # Escaping the process group the supervisor kills, or inspecting/controlling other processes.
    "setsid", "setpgid", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "pidfd_open",
    "pidfd_send_signal", "process_madvise", "process_mrelease", "migrate_pages", "move_pages",
    # Namespaces, mounts and the kernel itself.
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
    "fsmount", "fsconfig", "fspick", "mount_setattr", "kexec_load", "kexec_file_load", "reboot", "init_module",
    "finit_module", "delete_module", "swapon", "swapoff", "acct", "syslog", "quotactl", "iopl", "ioperm",
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "personality",
    "name_to_handle_at", "open_by_handle_at", "lookup_dcookie", "settimeofday", "clock_settime", "adjtimex",
    "fanotify_init",
    # Sockets, the whole class: no socket of any family can be made (socketpair too: a UNIX datagram socket
    # reaches any path-named socket with sendto), and the calls that would use one fail as well.
    "socket", "socketpair", "bind", "connect", "listen", "accept", "accept4", "sendto", "sendmsg", "sendmmsg",
    "recvfrom", "recvmsg", "recvmmsg", "getsockopt", "setsockopt", "getsockname", "getpeername", "shutdown",
    # Asynchronous I/O engines run work in kernel context past the filters above (io_uring can create sockets)
    # and pin memory: io_uring and the older AIO, every call of both.
    "io_uring_setup", "io_uring_enter", "io_uring_register", "io_setup", "io_destroy", "io_submit", "io_cancel",
    "io_getevents", "io_pgetevents",
    # Memory that RLIMIT_AS does not count: anonymous files (grown with write/ftruncate, never mapped) and
    # secret memory. (Files in the workdir are capped by its tmpfs size; SysV/POSIX shm is denied below.)
    "memfd_create", "memfd_secret",
    # Extended attributes, the whole class: a snippet never needs them, and they are metadata of host files.
    "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "setxattr", "lsetxattr",
    "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "getxattrat", "setxattrat", "listxattrat",
    "removexattrat",
    # SysV and POSIX IPC, which outlive the process that creates them.
    "shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semtimedop", "semctl", "msgget", "msgsnd",
    "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    # Raising limits back (the hard limits already forbid it without CAP_SYS_RESOURCE; this is belt and braces).
    "setrlimit",
)
# Calls that change how another process is scheduled or limited: allowed on the caller itself (pid 0) only, so no
# snippet can renice, deschedule, pin or starve the next one (the spare of its worker, another session's child or a
# child of another pool). (arg index, value it must equal) per call; any other value is EPERM.
SELF_ONLY: dict[str, tuple[tuple[int, int], ...]] = {
    "setpriority": ((0, 0), (1, 0)),  # which = PRIO_PROCESS, who = 0 (PRIO_PGRP and PRIO_USER reach others)
    "sched_setscheduler": ((0, 0),),
    "sched_setparam": ((0, 0),),
    "sched_setattr": ((0, 0),),
    "sched_setaffinity": ((0, 0),),
    "ioprio_set": ((0, 1), (1, 0)),  # which = IOPRIO_WHO_PROCESS, who = 0
}


class Filter:
    """A compiled filter, ready to load in a child."""

    def __init__(self, bpf: bytes) -> None:
        if not bpf or len(bpf) % 8:
            raise ValueError("invalid BPF program")
        self._buf = ctypes.create_string_buffer(bpf, len(bpf))

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        self._prog = SockFprog(len(bpf) // 8, ctypes.addressof(self._buf))

    def load(self) -> None:
        """Install the filter on the calling process (requires no_new_privs unless privileged)."""
        linux.prctl(linux.PR_SET_SECCOMP, linux.SECCOMP_MODE_FILTER, ctypes.addressof(self._prog))


def compile_filter() -> Filter:
    """Build the deny-list with libseccomp and export it as BPF."""
    import pyseccomp as sc  # imported here: it runs ldconfig at import, which must happen before confinement

    eperm = sc.ERRNO(errno.EPERM)
    f = sc.SyscallFilter(sc.ALLOW)
    for name in DENY:
        try:
            f.add_rule(eperm, name)
        except (OSError, ValueError, RuntimeError):
            pass  # syscall absent on this architecture
    # clone: allow only threads (CLONE_THREAD set). clone3 passes its flags in memory a filter cannot read, so
    # it reports ENOSYS and glibc falls back to clone.
    f.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, linux.CLONE_THREAD, 0))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    for name, conditions in SELF_ONLY.items():
        for arg, value in conditions:  # several rules for one call: any that matches denies
            f.add_rule(eperm, name, sc.Arg(arg, sc.NE, value))
    # prlimit64 with a new limit (arg 2 non-NULL) changes limits: denied except a process lowering its own CPU limit
    # (a child that turns out to run one snippet lowers a session's CPU budget to the snippet's; the hard limit
    # keeps anything from going up). Reading limits stays allowed.
    f.add_rule(eperm, "prlimit64", sc.Arg(2, sc.NE, 0), sc.Arg(0, sc.NE, 0))
    f.add_rule(eperm, "prlimit64", sc.Arg(2, sc.NE, 0), sc.Arg(1, sc.NE, resource.RLIMIT_CPU))
    with tempfile.TemporaryFile() as tmp:
        f.export_bpf(tmp)
        tmp.seek(0)
        return Filter(tmp.read())
