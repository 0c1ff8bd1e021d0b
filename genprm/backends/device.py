"""What this machine runs fast: the dtype behind `--dtype auto`, and how many threads torch gets.

Why not always bf16: only some CPUs have bf16 matmul instructions (AVX512-BF16, AMX, Arm's BF16 extension).
Elsewhere (AVX2-only x86: most laptops, many AMD servers, older Intel) torch emulates bf16 and a large matmul runs
~70x slower than in fp32 (measured on an AVX2-only AMD EPYC: 78 vs 1.1 GFLOP/s), which is true of bf16 weights and of
fp32 weights under bf16 autocast alike. So `auto` means bf16 only where it is native, fp32 otherwise:

    CUDA      bf16 where the GPU supports it, else fp16 (what pre-Ampere GPUs run natively)
    CPU       bf16 when the CPU reports a bf16 instruction set *and* a small bf16 matmul runs about as fast as fp32
              or faster (under a second, once per process, only on CPUs that report bf16; it also catches a oneDNN
              held back by ONEDNN_MAX_CPU_ISA, or flags a hypervisor reports that the kernels cannot use); else fp32
    other     fp32

Threads: torch's own default is the number of *physical* cores, whatever else runs. genprm counts the cores this
process may run on (`os.sched_getaffinity`) that are idle when the model loads (200 ms of per-core busy time), and
uses that many, at least one: torch's threads wait for each other at every barrier, so one thread on a busy core
holds all of them up (measured on a 2-core machine beside another job: the default verify took 30 s with two
threads, 2.8 s with one). A long-lived process (`genprm serve`, a long verify) counts again before each forward pass,
at most once a second (`AutoThreads`): the cores other processes kept busy since the last count are taken away, so a
server started on an idle machine gives up a core when another job starts (measured on 2 cores beside two busy
processes: 0.40 solutions/s with the two threads chosen at start, 1.0 with the recount). `OMP_NUM_THREADS` and an
explicit count always win: they are how several torch processes sharing a machine split it between themselves. `-v`
says the count and why.
"""

from __future__ import annotations

import functools
import os
import platform
import time
from dataclasses import dataclass
from typing import NamedTuple

import torch

from genprm.errors import ConfigError

DTYPES = ("auto", "bfloat16", "float16", "float32")


@dataclass(frozen=True)
class DtypeChoice:
    """The dtype a model runs in, and why (for `-v`, logs and results)."""

    dtype: str
    reason: str

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def __str__(self) -> str:
        return f"{self.dtype} ({self.reason})"


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_dtype(dtype: str, device: torch.device | str | None = None) -> DtypeChoice:
    """`dtype` as given, or what `auto` means on `device` (default: CUDA if present, else the CPU)."""
    if dtype not in DTYPES:
        raise ConfigError("dtype", f"one of {', '.join(DTYPES)}", dtype)
    if dtype != "auto":
        return DtypeChoice(dtype, "as asked")
    kind = str(device).split(":")[0] if device is not None else default_device().type
    if kind == "cuda":
        if torch.cuda.is_bf16_supported():
            return DtypeChoice("bfloat16", "auto: the GPU supports bf16")
        return DtypeChoice("float16", "auto: the GPU has no bf16; fp16 is its native half precision")
    if kind == "cpu":
        native, why = cpu_bf16_native()
        return DtypeChoice("bfloat16" if native else "float32", f"auto: {why}")
    return DtypeChoice("float32", f"auto: no bf16 check for {kind} devices")


def autocast_bf16(setting: str, device: torch.device | str | None = None) -> DtypeChoice:
    """Training's `autocast` setting (auto, on, off) -> "bfloat16" (fp32 weights under bf16 autocast) or "float32"."""
    if setting == "on":
        return DtypeChoice("bfloat16", "autocast on, as asked")
    if setting == "off":
        return DtypeChoice("float32", "autocast off, as asked")
    if setting != "auto":
        raise ConfigError("autocast", "one of auto, on, off", setting)
    choice = resolve_dtype("auto", device)
    # fp16 autocast needs a gradient scaler; training keeps it simple: bf16 or nothing.
    return choice if choice.dtype == "bfloat16" else DtypeChoice("float32", choice.reason)


def cpu_name() -> str:
    """The CPU's model name and the instruction set torch dispatches to, e.g. "AMD EPYC 9B14 (AVX512)"."""
    name = ""
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    capability = torch.backends.cpu.get_cpu_capability()
    return f"{name or platform.processor() or platform.machine()} ({capability})"


@functools.cache
def cpu_bf16_native() -> tuple[bool, str]:
    """(does this CPU run bf16 matmuls natively, the reason in words); measured once per process."""
    isa = _cpu_bf16_isa()
    if not isa:
        return False, "this CPU has no bf16 instructions (no AVX512-BF16, AMX or Arm BF16); fp32 is faster"
    ratio = _bf16_speedup()
    # Measured on a busy 2-core AMD EPYC: native bf16 3.2-3.4x fp32's speed, emulated bf16 (oneDNN held to AVX2)
    # 0.01x; 0.7 splits them with room for a noisy neighbour.
    if ratio < 0.7:
        return False, f"this CPU reports {isa} but a bf16 matmul ran at {ratio:.2g}x fp32's speed"
    return True, f"this CPU has {isa} (a bf16 matmul ran at {ratio:.1f}x fp32's speed)"


def _cpu_bf16_isa() -> str:
    """The bf16 instruction set the CPU reports, or "" (torch's CPUID reading on x86, /proc/cpuinfo elsewhere)."""
    capabilities = getattr(torch.cpu, "get_capabilities", None)
    if capabilities is not None and platform.machine().lower() in ("x86_64", "amd64", "i686"):
        caps = capabilities()
        return "AMX-BF16" if caps.get("amx_bf16") else "AVX512-BF16" if caps.get("avx512_bf16") else ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = {word for line in f if line.lower().startswith(("flags", "features")) for word in line.split()}
    except OSError:
        return ""
    for flag, name in (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16"), ("bf16", "Arm BF16")):
        if flag in flags:
            return name
    return ""


def _bf16_speedup(size: int = 128, repeats: int = 5) -> float:
    """fp32 time / bf16 time of a (size x 2size) @ (2size x 2size) matmul, best of `repeats` each, on one thread
    (several threads on a busy machine wait for each other at random: measured ratios then swung 100-fold)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _speedup(size, repeats)
    finally:
        torch.set_num_threads(threads)


def _speedup(size: int, repeats: int) -> float:
    a = torch.randn(size, 2 * size)
    b = torch.randn(2 * size, 2 * size)

    def best(x: torch.Tensor, y: torch.Tensor) -> float:
        x @ y  # warm-up: first-call allocation and kernel selection
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            x @ y
            times.append(time.perf_counter() - start)
        return min(times)

    with torch.inference_mode():
        return best(a, b) / max(best(a.bfloat16(), b.bfloat16()), 1e-9)


@dataclass(frozen=True)
class ThreadChoice:
    """How many torch threads run on the CPU, and why (for `-v`)."""

    threads: int
    reason: str


def choose_threads(threads: int = 0) -> ThreadChoice:
    """`threads` if > 0, else $OMP_NUM_THREADS if set, else the idle cores among those this process may use
    (at least one); see the module docstring."""
    if threads < 0:
        raise ConfigError("threads", ">= 0 (0 = the idle cores this process may use)", threads)
    if threads:
        return ThreadChoice(threads, "as asked")
    if env := _env_threads():
        return ThreadChoice(env, "from $OMP_NUM_THREADS")
    cores = usable_cores()
    idle = idle_cores()
    count = max(1, min(cores, int(idle + 0.5)))
    return ThreadChoice(count, f"{idle:.1f} of the {cores} cores this process may use were idle")


def use_threads(threads: int = 0) -> ThreadChoice:
    """Set torch's intra-op threads as `choose_threads` says, and return the choice."""
    choice = choose_threads(threads)
    if torch.get_num_threads() != choice.threads:
        torch.set_num_threads(choice.threads)
    return choice


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, where the OS has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def idle_cores(interval: float = 0.2) -> float:
    """How many of the cores this process may run on sat idle over `interval` seconds (psutil's per-core times)."""
    import psutil

    busy = psutil.cpu_percent(interval=interval, percpu=True)
    return sum(1.0 - busy[c] / 100.0 for c in _my_cores(len(busy)))


def _my_cores(count: int) -> set[int]:
    """The indices, among `count` per-core figures, of the cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return set(affinity(0)) & set(range(count)) if affinity is not None else set(range(count))


def _env_threads() -> int:
    try:
        return max(0, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return 0


RECOUNT_S = 1.0  # AutoThreads counts again at most this often: shorter windows mistake a burst for a job


class _Times(NamedTuple):
    at: float  # time.monotonic()
    busy: float  # CPU seconds the cores this process may use were busy, by anyone
    mine: float  # CPU seconds this process used


class AutoThreads:
    """The thread count, kept to the cores other processes leave free while this process runs.

    `choose_threads` counts idle cores once, at start; a server outlives that count. `refresh()`, called by the
    thread that runs the model before a forward pass, counts the cores *other* processes kept busy since the last
    count (all busy time on this process's cores minus its own CPU time, so its own threads never count against
    it) and sets that thread's torch threads to the rest, at least one. An explicit count or $OMP_NUM_THREADS is
    kept as it is.
    """

    def __init__(self, threads: int = 0) -> None:
        self.choice = use_threads(threads)
        self.auto = not threads and not _env_threads()
        self._mark = _times() if self.auto else None

    def refresh(self) -> ThreadChoice:
        """Count again if a second has passed, and set the calling thread's torch threads to the count."""
        if self._mark is not None and time.monotonic() - self._mark.at >= RECOUNT_S:  # cheap when not due
            now = _times()
            wall = now.at - self._mark.at
            if wall > 0:
                others = max(0.0, (now.busy - self._mark.busy) - (now.mine - self._mark.mine)) / wall
                cores = usable_cores()
                count = max(1, min(cores, int(cores - others + 0.5)))
                self._mark = now
                if count != self.choice.threads:
                    self.choice = ThreadChoice(count, f"other processes kept {others:.1f} of the {cores} cores this "
                                                      "process may use busy")
        # torch's count is per calling thread (OpenMP's is), so it is set here, where the model runs.
        if torch.get_num_threads() != self.choice.threads:
            torch.set_num_threads(self.choice.threads)
        return self.choice


def _times() -> _Times:
    import psutil

    per_core = psutil.cpu_times(percpu=True)
    mine = _my_cores(len(per_core))
    # Busy as psutil.cpu_percent counts it: all but idle and iowait (steal included: lost to us too); guest time is
    # already in user time on Linux.
    busy = sum(sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
               for c, t in enumerate(per_core) if c in mine)
    own = psutil.Process().cpu_times()
    return _Times(time.monotonic(), busy, own.user + own.system)
