"""`--dtype auto` and the thread count: what genprm.backends.device decides on this machine and on an AVX2-only one."""

import os
import platform
import subprocess
import sys
import threading
import time

import pytest
import torch

from genprm.backends.device import autocast_bf16, cpu_bf16_native, cpu_name, resolve_dtype, use_threads
from genprm.errors import ConfigError


def test_auto_is_bf16_exactly_where_the_cpu_runs_it_natively():
    choice = resolve_dtype("auto", "cpu")
    native, why = cpu_bf16_native()
    assert choice.dtype == ("bfloat16" if native else "float32") and choice.reason == f"auto: {why}"
    assert choice.torch_dtype == getattr(torch, choice.dtype)
    assert autocast_bf16("auto", "cpu").dtype == choice.dtype  # training follows the same rule
    assert resolve_dtype("float32", "cpu").dtype == "float32" and resolve_dtype("bfloat16").reason == "as asked"
    assert "(" in cpu_name() and torch.backends.cpu.get_cpu_capability() in cpu_name()


def test_bad_settings_name_the_option():
    with pytest.raises(ConfigError, match="dtype must be one of auto, bfloat16, float16, float32"):
        resolve_dtype("bf16")
    with pytest.raises(ConfigError, match="autocast must be one of auto, on, off"):
        autocast_bf16("yes")
    assert autocast_bf16("on").dtype == "bfloat16" and autocast_bf16("off").dtype == "float32"


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="oneDNN's ISA cap is an x86 setting")
def test_a_cpu_without_native_bf16_gets_fp32():
    """oneDNN held to AVX2 runs bf16 as an AVX2-only CPU does (emulated, ~70x slower than fp32): even where the CPU
    reports AVX512-BF16, `auto` must measure that and choose fp32."""
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "1"}
    code = ("from genprm.backends.device import resolve_dtype, autocast_bf16\n"
            "print(resolve_dtype('auto', 'cpu').dtype, autocast_bf16('auto', 'cpu').dtype)")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["float32", "float32"]


def test_threads_are_the_idle_cores_unless_asked_or_omp_num_threads_says(monkeypatch):
    from genprm.backends import device

    before, cores = torch.get_num_threads(), len(os.sched_getaffinity(0))
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        assert 1 <= use_threads().threads == torch.get_num_threads() <= cores
        monkeypatch.setattr(device, "idle_cores", lambda: cores - 0.9)  # another job holds about one core
        choice = use_threads()
        assert choice.threads == max(1, cores - 1) == torch.get_num_threads() and "idle" in choice.reason
        monkeypatch.setattr(device, "idle_cores", lambda: float(cores))
        assert use_threads().threads == cores
        monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the rule for several torch processes on a small machine
        assert use_threads().threads == 1 == torch.get_num_threads()
        assert use_threads(3).threads == 3 == torch.get_num_threads()  # an explicit count wins
        with pytest.raises(ConfigError, match="threads"):
            use_threads(-1)
    finally:
        torch.set_num_threads(before)


def test_idle_cores_sees_busy_ones():
    """A busy process on every core this one may use: under half of them count as idle."""
    from genprm.backends.device import idle_cores

    cores = sorted(os.sched_getaffinity(0))
    spin = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])}); print(flush=True)\nwhile True: pass"
    busy = [subprocess.Popen([sys.executable, "-c", spin, str(c)], stdout=subprocess.PIPE) for c in cores]
    try:
        for p in busy:
            p.stdout.readline()  # pinned and spinning
        assert idle_cores(0.5) < len(cores) / 2
    finally:
        for p in busy:
            p.kill()
            p.wait()


def test_auto_threads_give_cores_back_when_other_processes_take_them(monkeypatch):
    """A count made on an idle machine is not kept once other processes hold every core: the thread that runs the
    model drops to one torch thread at its next refresh. An explicit count or $OMP_NUM_THREADS is never changed."""
    from genprm.backends import device

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(device, "RECOUNT_S", 0.5)
    before = torch.get_num_threads()
    cores = sorted(os.sched_getaffinity(0))
    spin = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])}); print(flush=True)\nwhile True: pass"
    try:
        auto, fixed = device.AutoThreads(), device.AutoThreads(3)
        busy = [subprocess.Popen([sys.executable, "-c", spin, str(c)], stdout=subprocess.PIPE) for c in cores]
        try:
            for p in busy:
                p.stdout.readline()  # pinned and spinning
            time.sleep(0.5)
            auto.refresh()  # ends the window that held the spinners' start-up
            time.sleep(1.0)
            seen: list[tuple[int, int, int]] = []

            def model_thread() -> None:  # the count is per thread: refresh sets it where the model runs
                choice = auto.refresh()
                seen.append((choice.threads, torch.get_num_threads(), fixed.refresh().threads))

            worker = threading.Thread(target=model_thread)
            worker.start()
            worker.join()
        finally:
            for p in busy:
                p.kill()
                p.wait()
        assert seen == [(1, 1, 3)]
        assert "other processes" in auto.choice.reason
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        assert not device.AutoThreads().auto  # the rule for several torch processes on a small machine
    finally:
        torch.set_num_threads(before)
