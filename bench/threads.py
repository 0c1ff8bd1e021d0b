"""Does the thread recount hold up when the load beside the model is genprm's own sandbox? Side by side in one run.

    python bench/threads.py                  # default model, fp32, 8 requests x 96 tokens, 3 rounds per row
    python bench/threads.py --busy-s 0.3     # a lighter sandbox load

In code mode the verifier runs snippets in sandbox children while the model decodes other chains. Those children are
other processes on the same cores, so `AutoThreads` counts them as load like any other job. This bench decodes with
the default model while nothing runs beside it, then while a real `Sandbox` runs a CPU-bound snippet (`--busy-s`
busy, then `--idle-s` idle, over and over), each time with the automatic count, 2 threads fixed and 1 thread fixed.
It prints generated tokens/s and the share of forward passes the automatic count ran at one thread, with the CPU.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from genprm.backends.base import GenerateRequest
from genprm.backends.device import ThreadChoice, cpu_name
from genprm.backends.hf import HFBackend
from sandbox import Sandbox

REQUESTS = 8  # chains decoded together
NEW_TOKENS = 96  # greedy tokens per chain
ROUNDS = 3  # generate() calls timed per row
BUSY_S, IDLE_S = 0.6, 0.4  # one sandbox snippet's CPU time, and the pause before the next: a core ~60% busy


@contextmanager
def sandbox_load(busy_s: float, idle_s: float) -> Iterator[None]:
    """A real sandbox running a snippet that burns `busy_s` of CPU, then resting `idle_s`, until the block ends."""
    snippet = f"import time\nt = time.process_time()\nwhile time.process_time() - t < {busy_s}: pass\nprint('ok')"
    stop = threading.Event()

    def loop() -> None:
        with Sandbox(workers=1, timeout=busy_s + 5.0) as sb:
            while not stop.is_set():
                sb.run(snippet)
                stop.wait(idle_s)

    runner = threading.Thread(target=loop)
    runner.start()
    time.sleep(2 * (busy_s + idle_s))  # the sandbox is warm and the recount has seen a full cycle
    try:
        yield
    finally:
        stop.set()
        runner.join()


def decode(threads: int, args: argparse.Namespace, beside: bool) -> tuple[float, float]:
    """(generated tokens/s, share of forward passes at one thread) for a backend built with `threads`."""
    backend = HFBackend(dtype="float32", threads=threads, max_batch=args.requests)
    requests = [GenerateRequest(prompt=backend.chat([{"role": "user", "content": f"What is {i} + {3 * i}? "
                                                      "Think step by step."}]), max_new_tokens=args.new_tokens)
                for i in range(args.requests)]
    backend.generate(requests[:2])  # untimed: first-call costs
    counts: list[int] = []
    assert backend.threads is not None  # a CPU backend
    refresh = backend.threads.refresh

    def counted() -> ThreadChoice:
        choice = refresh()
        counts.append(choice.threads)
        return choice

    backend.threads.refresh = counted  # type: ignore[method-assign]
    with sandbox_load(args.busy_s, args.idle_s) if beside else nullcontext():
        start, tokens = time.perf_counter(), backend.tokens_generated
        for _ in range(args.rounds):
            backend.generate(requests)
        elapsed = time.perf_counter() - start
    return (backend.tokens_generated - tokens) / elapsed, counts.count(1) / max(1, len(counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--new-tokens", type=int, default=NEW_TOKENS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--busy-s", type=float, default=BUSY_S)
    parser.add_argument("--idle-s", type=float, default=IDLE_S)
    args = parser.parse_args()
    os.environ.pop("OMP_NUM_THREADS", None)  # it would pin the automatic count
    print(f"{cpu_name()}, {len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f} at start; "
          f"fp32, {args.requests} x {args.new_tokens} tokens x {args.rounds} rounds")
    print("| beside the model | threads | tokens/s | forward passes at 1 thread |\n|---|---|---|---|")
    for beside in (False, True):
        what = f"sandbox, {args.busy_s:g} s busy / {args.idle_s:g} s idle" if beside else "nothing"
        for threads in (0, 2, 1):
            rate, one = decode(threads, args, beside)
            print(f"| {what} | {threads or 'auto'} | {rate:.1f} | {one:.2f} |", flush=True)


if __name__ == "__main__":
    main()
