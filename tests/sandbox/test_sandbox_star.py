"""The `from sympy import *` shortcut (sandbox/star.py) is exact: a session's blocks print what the same blocks print
run in-process in one namespace, however an earlier block changed what that statement would do (rebound or deleted
names, a changed module, `__all__`, `__import__`, the builtins and importlib functions the import runs, a tracer).
The reference runs in a subprocess, since these blocks change the interpreter they run in."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from sandbox import Sandbox, star

STAR = "from sympy import *"
SCENARIOS: dict[str, list[str]] = {
    "plain": [f"{STAR}\nx = symbols('x')", f"{STAR}\nprint(factor(x**2 - 1))", f"# again\n{STAR}\nprint(E, pi)"],
    "rebound": [STAR, "E = 3\nsin = 4\nprint(E)", f"{STAR}\nprint(E, sin(0))"],
    "deleted": [STAR, "del sin\nprint('sin' in globals())", f"{STAR}\nprint(sin(0))"],
    "deleted, not restored": [STAR, "del sin", "print(sin)"],
    "module attribute": [STAR, "import sympy\nsympy.pi = 3", f"{STAR}\nprint(pi)"],
    "module __all__": [STAR, "import sympy\nsympy.zz = 7\nsympy.__all__.append('zz')", f"{STAR}\nprint(zz)"],
    "module replaced": [STAR, "import sys, types\nm = types.ModuleType('sympy')\nm.__all__ = ['q']\nm.q = 1\n"
                              "sys.modules['sympy'] = m", f"{STAR}\nprint(q)"],
    "module class": [STAR, textwrap.dedent("""\
        import sympy, types
        class M(types.ModuleType):
            def __getattribute__(self, name):
                if name == 'sin':
                    print('getattr', name)
                return super().__getattribute__(name)
        sympy.__class__ = M"""), f"{STAR}\nprint(1)"],
    "__import__": [STAR, textwrap.dedent("""\
        import builtins
        _orig = builtins.__import__
        def _imp(name, *args, **kwargs):
            print('import', name)
            return _orig(name, *args, **kwargs)
        builtins.__import__ = _imp"""), f"{STAR}\nprint(2)"],
    "hasattr": [STAR, textwrap.dedent("""\
        import builtins
        calls = []
        _orig = builtins.hasattr
        builtins.hasattr = lambda o, n: calls.append(n) or _orig(o, n)"""),
        f"{STAR}\nprint(len(calls) > 0)", "import builtins\nbuiltins.hasattr = _orig"],
    "_handle_fromlist": [STAR, textwrap.dedent("""\
        import importlib._bootstrap as b
        _orig = b._handle_fromlist
        def _h(*args, **kwargs):
            print('fromlist')
            return _orig(*args, **kwargs)
        b._handle_fromlist = _h"""), f"{STAR}\nprint(3)"],
    "tracer": [STAR, textwrap.dedent("""\
        import sys
        def _t(frame, event, arg):
            if frame.f_code.co_name == '_handle_fromlist':
                print('traced', event)
        sys.settrace(_t)"""), f"{STAR}\nprint(4)", "import sys\nsys.settrace(None)"],
    "__builtins__": [STAR, "__builtins__ = {'print': print, '__import__': __import__}", f"{STAR}\nprint(5)"],
    "spec": [STAR, "import sympy\nclass S:\n    @property\n    def _initializing(self):\n        print('spec')\n"
                   "        return False\nsympy.__spec__ = S()", f"{STAR}\nprint(6)"],
    "general keys": [STAR, "globals()[1] = 2\nE = 9", f"{STAR}\nprint(E)"],
    "resized": [STAR, "for i in range(3000):\n    globals()[f'v{i}'] = i", f"{STAR}\nprint(E, v2999)"],
}
_REFERENCE = textwrap.dedent("""\
    import contextlib, io, json, sys
    outs, ns = [], {"__name__": "__main__"}
    for block in json.loads(sys.argv[1]):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            try:
                exec(compile(block, "<snippet>", "exec"), ns)
            except BaseException as e:
                buf.write(f"!{type(e).__name__}")
        outs.append(buf.getvalue())
    sys.settrace(None)
    sys.__stdout__.write(json.dumps(outs))
    """)


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(workers=1, timeout=5.0) as box:
        yield box


def _in_process(blocks: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _REFERENCE, json.dumps(blocks)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return list(json.loads(out))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_sessions_match_in_process_exec(sb: Sandbox, name: str) -> None:
    blocks = SCENARIOS[name]
    got = []
    with sb.session() as s:
        for block in blocks:
            r = s.run(block)
            error = r.stderr.strip().splitlines()[-1].split(":")[0] if r.status == "error" else ""
            got.append(r.stdout + (f"!{error}" if error else ""))
    assert got == _in_process(blocks)


def test_source_only_takes_the_exact_statement() -> None:
    assert star.source(f"{STAR}\nx = 1") == "pass\nx = 1"
    assert star.source(f"# c\n\n{STAR}  \r\n{STAR}\nprint(1)") == "# c\n\npass\npass\nprint(1)"
    for code in (f"{STAR}; x = 1", f"x = 1\n{STAR}", f'"""doc"""\n{STAR}', f"  {STAR}", f"{STAR} as s",
                 f"{STAR}\\\n", "from sympy import (*)", f"\ufeff{STAR}"):
        assert star.source(code) is None, code


def test_unchanged_sees_every_rebinding(monkeypatch) -> None:
    import types

    import sympy

    # The check gives up while other threads run (a sandbox worker has none); earlier tests leave some in this
    # process (servers, pools), which is not what is tested here.
    monkeypatch.setattr(star, "_thread", types.SimpleNamespace(_count=lambda: 0))
    s = star.prepare()
    assert s is not None and s.exact
    ns = dict(s.ns)
    assert s.unchanged(ns)
    ns["E"] = 3
    assert not s.unchanged(ns)
    ns["E"] = sympy.E
    assert s.unchanged(ns)
    del ns["sin"]
    assert not s.unchanged(ns)
    ns["sin"] = sympy.sin
    assert s.unchanged(ns)  # out of order now: the slower path, same answer
    for i in range(2000):
        ns[f"v{i}"] = i
    ns[1] = 2  # general keys
    assert s.unchanged(ns)
    saved = sympy.cos
    try:
        sympy.cos = 5  # the module changed: the import would rebind cos
        assert not s.unchanged(ns)
    finally:
        sympy.cos = saved
    assert s.unchanged(ns)
