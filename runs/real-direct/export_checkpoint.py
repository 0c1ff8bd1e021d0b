"""Write the adapter of a run's newest checkpoint (the run stays resumable): python export_checkpoint.py RUN OUT."""
import json
import sys
from pathlib import Path

import torch

from genprm.distill.train import load_model
from genprm.distill.train_config import TrainConfig

run, out = Path(sys.argv[1]), Path(sys.argv[2])
cfg = TrainConfig(data="runs/real/kept.jsonl", output_dir=str(out), lora=True, lora_r=8, lora_alpha=16, seed=0)
model, tokenizer, _ = load_model(cfg)
checkpoint = max(run.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
result = model.load_state_dict(torch.load(checkpoint / "state.pt", weights_only=False)["weights"], strict=False)
assert not result.unexpected_keys and not [k for k in result.missing_keys if "lora_" in k], result
model.eval()
model.to(torch.bfloat16).save_pretrained(out)
(out / "exported_from.json").write_text(json.dumps({"checkpoint": str(checkpoint)}))
print(checkpoint)
