"""Flags from config dataclasses: one helper that turns the fields of a command's configs into typer options.

Each field's help is its `metadata["help"]`; `metadata` may also say `choices` (a fixed set of strings, shown and
checked by click), `argument` (a positional argument), `flag` (the flag's name when it is not the field's),
`aliases` (older names, kept working with a one-line deprecation note; `genprm.config.canonical_keys` reads them
in config files too) and `switch` (a tri-state bool | None read as auto|on|off). A command declares which configs it
takes; the wrapper builds each one from the parsed flags, so a config's own checks (`__post_init__`) are the only
checks, and no command copies a flag by hand.

    @command(app, backend=BackendConfig, verifier=VerifierConfig, args=VerifyArgs)
    def verify(backend: BackendConfig, verifier: VerifierConfig, args: VerifyArgs) -> None: ...
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

SWITCH = {"auto": None, "on": True, "off": False}


@dataclass(frozen=True)
class Prefixed:
    """A config whose flags carry a prefix: `Prefixed(BackendConfig, "policy")` gives --policy-backend, ..., and its
    `model` field becomes --policy (a model is named by the role it plays)."""

    config: type
    prefix: str


def command(group: typer.Typer, name: str | None = None, panels: dict[str, str] | None = None,
            **configs: type | Prefixed) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register `function` as a command of `group` whose flags are the fields of `configs` (keyword -> config
    class); the function is called with one built config per keyword. `panels` groups a config's flags under a
    heading of `--help`."""

    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        params: list[inspect.Parameter] = []
        owners: dict[str, tuple[str, str, dict[str, Any]]] = {}  # parameter -> (config keyword, field, metadata)
        names: dict[str, str] = {}  # parameter -> its flag, as typed
        for keyword, spec in configs.items():
            cls, prefix = (spec.config, spec.prefix) if isinstance(spec, Prefixed) else (spec, "")
            hints = typing.get_type_hints(cls)
            for f in dataclasses.fields(cls):
                pname = f"{prefix}_{f.name}" if prefix else f.name
                flag = prefix if prefix and f.name == "model" else pname.replace("_", "-")
                panel = (panels or {}).get(keyword)
                for param, typed in _parameters(pname, f, hints[f.name], flag, panel):
                    params.append(param)
                    owners[param.name] = (keyword, f.name, dict(f.metadata))
                    names[param.name] = typed
        params.sort(key=lambda p: p.kind)  # positional arguments first, as Python requires

        @functools.wraps(function)
        def wrapper(**values: Any) -> None:
            built: dict[str, dict[str, Any]] = {k: {} for k in configs}
            for pname, value in values.items():
                keyword, fname, meta = owners[pname]
                if "__alias" in pname:
                    if value is None:
                        continue
                    _say(f"{names[pname]} is deprecated: use {names[pname.partition('__alias')[0]]}")
                built[keyword][fname] = _value(value, meta)
            for keyword, spec in configs.items():
                built[keyword] = (spec.config if isinstance(spec, Prefixed) else spec)(**built[keyword])
            function(**built)

        wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        group.command(name=name)(wrapper)
        return wrapper

    return decorate


def _parameters(pname: str, f: dataclasses.Field, hint: Any, flag: str,
                panel: str | None) -> list[tuple[inspect.Parameter, str]]:
    """The field's parameter and one hidden parameter per alias, each with its flag's name."""
    meta, help_text = f.metadata, f.metadata.get("help", "")
    default = f.default if f.default is not dataclasses.MISSING else (
        f.default_factory() if f.default_factory is not dataclasses.MISSING else inspect.Parameter.empty)
    kind, optional = _base_type(hint)
    if meta.get("argument"):
        annotation = Annotated[kind if not optional else kind | None,  # type: ignore[operator]
                               typer.Argument(help=help_text, show_default=False)]
        return [(inspect.Parameter(pname, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation,
                                   default=default), pname)]
    decls = [f"--{meta.get('flag', flag)}", *meta.get("short", ())]
    options: dict[str, Any] = {"help": help_text, "rich_help_panel": panel}
    if meta.get("switch"):
        kind = _choices(pname, tuple(SWITCH))
        default = {v: k for k, v in SWITCH.items()}[default]
        options["help"] = help_text + " auto: the model's; on; off."
    elif "choices" in meta:
        kind = _choices(pname, tuple(meta["choices"]))
        kind = kind | None if optional else kind  # type: ignore[operator]
    elif kind is bool and not meta.get("flag_only"):
        decls = [f"{decls[0]}/--no-{decls[0][2:]}", *decls[1:]]
    elif kind is not bool:
        kind = kind | None if optional else kind  # type: ignore[operator]
    if default is None or meta.get("flag_only"):
        options["show_default"] = False
    if kind is bool:
        options["metavar"] = ""  # a flag takes no value: show none
    params = [(inspect.Parameter(pname, inspect.Parameter.KEYWORD_ONLY, default=default,
                                 annotation=Annotated[kind, typer.Option(*decls, **options)]), decls[0].split("/")[0])]
    for i, alias in enumerate(meta.get("aliases", ())):  # hidden, so --help shows one name per idea
        params.append((inspect.Parameter(f"{pname}__alias{i}", inspect.Parameter.KEYWORD_ONLY, default=None,
                                         annotation=Annotated[kind | None,  # type: ignore[operator]
                                                              typer.Option(alias, hidden=True)]), alias))
    return params


def _base_type(hint: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed); tuples become lists (typer reads repeated flags)."""
    args = typing.get_args(hint)
    optional = type(None) in args
    if optional:
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) in (tuple, list):
        hint = list[typing.get_args(hint)[0]]  # type: ignore[misc]
    return hint, optional


@functools.cache
def _choices(name: str, values: tuple[str, ...]) -> type[enum.Enum]:
    return enum.Enum(name.title().replace("_", ""), {v: v for v in values}, type=str)  # type: ignore[return-value]


def _value(value: Any, meta: dict[str, Any]) -> Any:
    """A parsed flag as the config field holds it: enum members as their strings, switches as bool | None,
    repeated flags as tuples."""
    if isinstance(value, enum.Enum):
        value = value.value
    if meta.get("switch"):
        return SWITCH[value]
    if isinstance(value, list):
        return tuple(value)
    return value


def _say(message: str) -> None:
    print(f"genprm: {message}", file=sys.stderr, flush=True)
