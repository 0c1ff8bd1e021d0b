"""Two LoRA adapters, the second trained on the first one merged into the base, as one adapter of the base.

LoRA adds s·B·A to each weight (s = alpha / r). Training adapter 2 on (base + s1·B1·A1) gives
base + s1·B1·A1 + s2·B2·A2, which is exactly one LoRA of rank r1 + r2: A = [A1; A2] and B = [s1·B1, s2·B2] / s
with s = alpha / (r1 + r2). So a verifier trained in stages still ships as one small adapter that loads on the base.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

_WEIGHTS = "adapter_model.safetensors"
_CONFIG = "adapter_config.json"


def stack_adapters(first: str | Path, second: str | Path, out: str | Path, base: str | None = None) -> Path:
    """Write to `out` one adapter equal to `first` then `second` (trained on `first` merged). Tokenizer files come
    from `second`; `base` (default: `first`'s base) is recorded as the new adapter's base model."""
    first, second, out = Path(first), Path(second), Path(out)
    c1, c2 = (json.loads((p / _CONFIG).read_text()) for p in (first, second))
    for key in ("target_modules", "use_dora", "use_rslora", "bias", "modules_to_save"):
        v1, v2 = c1.get(key), c2.get(key)
        if (sorted(v1) if isinstance(v1, list) else v1) != (sorted(v2) if isinstance(v2, list) else v2):
            raise ValueError(f"the adapters differ in {key!r} ({v1!r} vs {v2!r}): only plain LoRAs of the same "
                             "modules stack")
    w1, w2 = load_file(str(first / _WEIGHTS)), load_file(str(second / _WEIGHTS))
    if set(w1) != set(w2):
        raise ValueError("the adapters do not adapt the same weights")
    r = c1["r"] + c2["r"]
    alpha = c1["lora_alpha"] + c2["lora_alpha"]
    scale = alpha / r
    s1, s2 = c1["lora_alpha"] / c1["r"], c2["lora_alpha"] / c2["r"]
    stacked = {}
    for name, a1 in w1.items():
        if ".lora_A." in name:
            stacked[name] = torch.cat([a1, w2[name]], dim=0)
        elif ".lora_B." in name:
            b = torch.cat([a1.float() * (s1 / scale), w2[name].float() * (s2 / scale)], dim=1)
            stacked[name] = b.to(a1.dtype)
        else:
            raise ValueError(f"unexpected tensor {name!r}: only lora_A/lora_B weights stack")
    out.mkdir(parents=True, exist_ok=True)
    save_file(stacked, str(out / _WEIGHTS), metadata={"format": "pt"})
    config = {**c2, "r": r, "lora_alpha": alpha, "base_model_name_or_path": base or c1["base_model_name_or_path"]}
    (out / _CONFIG).write_text(json.dumps(config, indent=2))
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (second / name).exists():
            shutil.copyfile(second / name, out / name)
    return out
