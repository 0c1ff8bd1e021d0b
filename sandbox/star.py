"""`from sympy import *` without its copy-on-write cost, where that is exact.

The statement increments the reference count of every object SymPy exports: ~1,000 objects on ~700 pages of the
heap a child shares with its zygote, so ~700 copy-on-write faults (~2.5 ms of CPU) the first time a child runs it,
and ~0.5 ms of work each time after. Almost every block the verifier writes starts with it.

- The first block of a script (a snippet, or a session's first block): the worker runs the import once, into
  `Star.ns`; a script whose leading lines are that statement starts in (its child's private copy of) that namespace,
  with those lines made `pass` (`source`). The same names, bound to the same objects, without touching them.
- A later block of a session: running the statement again changes nothing when every exported name is still bound,
  in the session's namespace, to the very object SymPy's module holds, and no code of the user's would run during
  the import (`Star.unchanged`). The lines are then made `pass` too; otherwise the block runs as written.

Comparing bindings the ordinary way would itself increment those reference counts (reading a value from a dict
does), so `unchanged` reads the two dicts' entries as addresses straight from CPython 3.11's dict layout, checked
against the ordinary reading in the worker first (`_layout_ok`); on any other interpreter, or if that check fails,
later blocks simply run the import as written.
"""

from __future__ import annotations

import _thread
import builtins
import ctypes
import gc
import struct
import sys
import types
from array import array
from operator import itemgetter

STAR_LINE = "from sympy import *"
_DICT_HEAD = struct.Struct("=qQQQ")  # PyDictObject after PyObject_HEAD: ma_used, ma_version_tag, ma_keys, ma_values
_KEYS_HEAD = struct.Struct("=qBBBxIqq")  # PyDictKeysObject: refcnt, log2_size, log2_index_bytes, kind, version,
#                                          usable, nentries; the index table and the entries follow
_LIST_HEAD = struct.Struct("=qQ")  # PyListObject after PyObject_HEAD: ob_size, ob_item
_GENERAL, _UNICODE = 0, 1  # dk_kind: entries of (hash, key, value) or of (key, value)


def source(code: str) -> str | None:
    """`code` with its leading `from sympy import *` lines made `pass`, or None when it does not start so.

    Judged on the text, not a syntax tree (parsing with `ast` touches ~100 pages of its own): a line holding exactly
    that statement, with only blank and comment lines before it, is that statement and nothing else, since nothing
    before it can open a string, a bracket or a continued line. Line numbers stay as they were. Any other spelling
    (a `;`, an alias, a docstring first) is not recognised, and the block runs as written.
    """
    if not code.startswith(("from sympy import", "#", "\n", " ", "\t", "\r", "\f")):
        return None
    lines = code.split("\n")
    stars = 0
    for i, line in enumerate(lines):
        bare = line.rstrip(" \t\r\f")
        if bare == STAR_LINE:
            lines[i] = "pass"
            stars += 1
        elif bare and not bare.lstrip(" \t\f").startswith("#"):
            break
    return "\n".join(lines) if stars else None


class Star:
    """Made by the worker before its zygote forks (see `prepare`); children only read it."""

    def __init__(self, module: types.ModuleType) -> None:
        self.ns: dict[str, object] = {"__name__": "__main__", "__builtins__": builtins}
        exec("from sympy import *", self.ns)
        self.module = module
        # Everything the statement runs, as it is now: `unchanged` requires each to be the same object still.
        self.modules = sys.modules
        self.all = module.__dict__["__all__"]
        self.spec = module.__dict__["__spec__"]
        self.spec_type = type(self.spec)
        self.spec_mro = self.spec_type.__mro__
        self.bootstrap = sys.modules["_frozen_importlib"]
        self.handle_fromlist = self.bootstrap.__dict__["_handle_fromlist"]
        self.handle_code = self.handle_fromlist.__code__
        self.builtins = {name: builtins.__dict__[name] for name in ("__import__", "isinstance", "hasattr")}
        self.exact = False  # whether later blocks may skip the statement (see `unchanged`)
        self.all_items = b""
        self.in_ns = self.in_module = _View(())  # where the exported names sit in a namespace, in the module
        self.held: tuple[int, ...] | None = None  # the module's bindings of them, as of version `held_version`
        self.held_version = -1
        self.expected = b""  # the entries (key, value) a namespace holds them in (see `_bound`)
        if sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11) or not _layout_ok(self.ns):
            return
        names = list(self.all)
        if not all(type(n) is str for n in names) or not all(self.ns[n] is module.__dict__[n] for n in names):
            return
        module_keys = {k: id(k) for k in module.__dict__}
        # A namespace's keys are the strings of __all__ (the import binds them); the module's are its own.
        self.in_ns = _View(tuple(id(n) for n in names))
        self.in_module = _View(tuple(module_keys[n] for n in names))
        self.all_items = array("Q", map(id, names)).tobytes()
        self.exact = len(names) > 1 and _list_items(self.all) == self.all_items
        # Find where the names sit now, in the worker: a child then starts with every position and comparison
        # already made, and its check is a few reads (each object it creates would be a page it has to fault in).
        self.exact = self.exact and self.unchanged(self.ns)

    def unchanged(self, ns: dict[str, object]) -> bool:
        """Whether running `from sympy import *` in `ns` now would bind nothing new and run no code of the user's.

        Every check is an identity or a dict lookup that does not touch the exported objects: what the import
        would run (the module in the interpreter's own module dict, its spec, importlib's `_handle_fromlist` and
        the builtins it calls) is as the worker left it, no tracer or profiler would see the call, no other thread
        runs while the dicts are read, and every name of `__all__` (unchanged) is bound in `ns` to the object the
        module holds. (Threads started outside `threading`/`_thread` are not seen; one that changed these dicts
        while they are read could only mislead or crash its own session's child.)"""
        if not self.exact or sys.gettrace() is not None or sys.getprofile() is not None or _thread._count():
            return False
        collecting = gc.isenabled()
        gc.disable()  # no finalizer of the user's may run (and change what is being compared) during the check
        try:
            return self._unchanged(ns)
        finally:
            if collecting:
                gc.enable()

    def _unchanged(self, ns: dict[str, object]) -> bool:
        module, spec_type = self.module, self.spec_type
        if (sys.modules is not self.modules or self.modules.get("sympy") is not module
                or type(module) is not types.ModuleType or ns.get("__builtins__") is not builtins
                or sys.getrecursionlimit() < 100):
            return False
        if any(builtins.__dict__.get(name) is not value for name, value in self.builtins.items()):
            return False
        bootstrap = self.bootstrap
        if (type(bootstrap) is not types.ModuleType or sys.modules.get("_frozen_importlib") is not bootstrap
                or bootstrap.__dict__.get("_handle_fromlist") is not self.handle_fromlist
                or self.handle_fromlist.__code__ is not self.handle_code
                or self.handle_fromlist.__defaults__ is not None
                or self.handle_fromlist.__kwdefaults__ != {"recursive": False}
                or "isinstance" in bootstrap.__dict__ or "hasattr" in bootstrap.__dict__):
            return False
        spec = self.spec
        if (module.__dict__.get("__spec__") is not spec or type(spec) is not spec_type
                or spec_type.__mro__ is not self.spec_mro or spec.__dict__.get("_initializing") is not False
                or any(n in spec_type.__dict__ for n in ("_initializing", "__getattribute__", "__getattr__"))
                or module.__dict__.get("__all__") is not self.all or _list_items(self.all) != self.all_items
                or "__path__" not in module.__dict__):
            return False
        held = self._held()
        return held is not None and (self._bound(ns, held) or self.in_ns.values(ns) == held)

    def _held(self) -> tuple[int, ...] | None:
        """What the module binds the exported names to (addresses), recomputed only when its dict changed."""
        head = _head(self.module.__dict__)
        if head is None:
            return None
        if head[0] != self.held_version or self.held is None:
            self.held, self.held_version, self.expected = self.in_module.values(self.module.__dict__), head[0], b""
        return self.held

    def _bound(self, ns: dict[str, object], held: tuple[int, ...]) -> bool:
        """The usual case, in one comparison of bytes: the exported names sit in `ns` in one run of entries, in the
        order the import put them there, each bound to what the module holds (a key is in at most one live entry,
        so equal bytes prove every binding)."""
        run = self.in_ns.run
        head = _head(ns)
        if run is None or head is None or head[2] != 2 or run + len(held) > head[3]:
            return False
        if not self.expected:
            pairs = array("Q", bytes(16 * len(held)))
            pairs[0::2], pairs[1::2] = array("Q", self.in_ns.keys), array("Q", held)
            self.expected = pairs.tobytes()
        return ctypes.string_at(head[1] + 16 * run, len(self.expected)) == self.expected


def prepare() -> Star | None:
    """The worker's `Star`, if SymPy is preloaded."""
    module = sys.modules.get("sympy")
    return Star(module) if module is not None and "__all__" in module.__dict__ else None


def _head(d: dict[object, object]) -> tuple[int, int, int, int] | None:
    """(version tag, where the entries start, words per entry, number of entries) of `d`, read from CPython 3.11's
    dict layout; None if `d` is not laid out as expected (a split table, an unknown kind). An entry is 3 words
    (hash, key, value) or 2 (key, value); a deleted one has key and value 0. The version tag changes with every
    change to the dict."""
    used, version, keys, values = _DICT_HEAD.unpack(ctypes.string_at(id(d) + 16, _DICT_HEAD.size))
    if values or not keys:
        return None
    _, log2_size, log2_index_bytes, kind, _, _, nentries = _KEYS_HEAD.unpack(ctypes.string_at(keys, _KEYS_HEAD.size))
    width = {_GENERAL: 3, _UNICODE: 2}.get(kind)
    if width is None or log2_size > 40 or not 0 <= used <= nentries <= 1 << log2_size:
        return None
    return version, keys + _KEYS_HEAD.size + (1 << log2_index_bytes), width, nentries


def _words(d: dict[object, object]) -> tuple[array[int], int] | None:
    """The entries of `d` as machine words, read without touching the keys or values, and the words per entry."""
    head = _head(d)
    if head is None:
        return None
    _, entries, width, nentries = head
    words = array("Q")
    words.frombytes(ctypes.string_at(entries, nentries * width * 8))
    return words, width


def _entries(d: dict[object, object]) -> dict[int, int] | None:
    """{key address: value address} of every live entry of `d` (see `_words`)."""
    read = _words(d)
    if read is None:
        return None
    words, width = read
    return {k: v for k, v in zip(words[width - 2::width], words[width - 1::width], strict=True) if k}


class _View:
    """The values of some keys of a dict, by address, through positions in its entries that are found once and
    then only checked (entries move only when the dict is resized): a few C-level lookups, not a Python loop."""

    def __init__(self, keys: tuple[int, ...]) -> None:
        self.keys = keys
        self.keys_at: itemgetter[tuple[int, ...]] | None = None
        self.values_at: itemgetter[tuple[int, ...]] | None = None
        self.run: int | None = None  # the keys sit in order from this entry on, 2 words each (see `Star._bound`)

    def values(self, d: dict[str, object]) -> tuple[int, ...] | None:
        """The value addresses of `keys` in `d`, in order; None if a key is missing or `d` cannot be read."""
        read = _words(d)
        if read is None:
            return None
        words, width = read
        if self.keys_at is not None and self.values_at is not None:
            try:
                if self.keys_at(words) == self.keys:
                    return self.values_at(words)
            except IndexError:
                pass
        index = {k: i for i, k in enumerate(words[width - 2::width]) if k}
        spots = [index.get(k) for k in self.keys]
        if None in spots:
            return None
        self.keys_at = itemgetter(*(i * width + width - 2 for i in spots))  # type: ignore[operator]
        self.values_at = itemgetter(*(i * width + width - 1 for i in spots))  # type: ignore[operator]
        first = spots[0]
        self.run = first if width == 2 and spots == list(range(first, first + len(spots))) else None  # type: ignore[arg-type]
        return self.values_at(words)


def _list_items(items: list[object]) -> bytes:
    """The addresses of a list's items, read from its layout (see `_entries`)."""
    size, item = _LIST_HEAD.unpack(ctypes.string_at(id(items) + 16, _LIST_HEAD.size))
    return ctypes.string_at(item, size * 8) if 0 < size < 1 << 20 else b""


def _layout_ok(ns: dict[str, object]) -> bool:
    """Whether `_entries` and `_list_items` read what the ordinary API reads, on dicts of each kind this module
    meets (a namespace, a module's dict, one with a non-str key, one with deleted entries) and on a list."""
    general: dict[object, object] = {1: "a", "b": 2, (3,): None}
    holes = {f"k{i}": i for i in range(50)}
    for i in range(0, 50, 3):
        del holes[f"k{i}"]
    sample = [ns, sys.modules["sympy"].__dict__, general, holes, builtins.__dict__]
    for d in sample:
        if _entries(d) != {id(k): id(v) for k, v in d.items()}:  # type: ignore[arg-type]
            return False
    items = list(range(300, 340))
    return _list_items(items) == array("Q", map(id, items)).tobytes()
