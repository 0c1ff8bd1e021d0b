"""What genprm knows and keeps: `genprm models`, `genprm protocols`, `genprm cache`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from genprm.cli.common import app, out_console, say


@app.command(name="models")
def list_models(json_out: Annotated[bool, typer.Option("--json", help="One JSON object per model.")] = False) -> None:
    """Known verifiers: hub id, size, protocol, verdict, recommended sampling, published ProcessBench F1 (offline)."""
    from rich.table import Table

    from genprm.registry import KNOWN

    if json_out:
        for entry in KNOWN:
            print(json.dumps(entry.to_dict()), flush=True)
        return
    sources = list(dict.fromkeys(e.source for e in KNOWN))
    table = Table("model", "size", "protocol", "ProcessBench F1")
    for e in KNOWN:
        f1 = "-" if e.processbench_f1 is None else f"{e.processbench_f1:.1f}"
        table.add_row(e.hub_id, e.size, e.protocol, f"{f1} [{sources.index(e.source) + 1}]")
    out_console.print(table)
    for protocol in dict.fromkeys(e.protocol for e in KNOWN):
        e = next(e for e in KNOWN if e.protocol == protocol)
        out_console.print(f"{protocol}: verdict {e.verdict}; sampling {e.sampling}", highlight=False, soft_wrap=True)
    for i, source in enumerate(sources, 1):
        out_console.print(f"[{i}] {source}", highlight=False, markup=False, soft_wrap=True)


@app.command(name="protocols")
def list_protocols() -> None:
    """The built-in protocols (pass one to --protocol), each with the module that runs it."""
    from genprm.protocols import builtin_protocols, load

    for name in builtin_protocols():
        print(f"{name}\t{load(name).implementation.__name__.rsplit('.', 1)[-1]}")


@app.command(name="prompts", hidden=True)
def list_prompts() -> None:
    """Deprecated: `genprm protocols`."""
    say("`genprm prompts` is deprecated: use `genprm protocols`")
    list_protocols()


@app.command(name="cache")
def cache(clear: Annotated[bool, typer.Option("--clear", help="Delete everything in the cache (it is rebuilt on "
                                                              "first use).")] = False) -> None:
    """What genprm keeps on disk: models converted from GGUF and adapters merged into their base, with sizes."""
    from genprm.backends.weights import cache_entries, clear_cache

    entries = cache_entries()
    for path, size in entries:
        print(f"{size / 2**20:9.1f} MiB  {path}")
    total = sum(size for _, size in entries)
    say(f"{len(entries)} entries, {total / 2**20:.1f} MiB" + ("" if not clear else "; cleared"))
    if clear:
        clear_cache()
