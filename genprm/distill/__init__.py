"""Distillation: labelled solutions -> teacher critiques in the verifier's protocol -> filter -> fine-tune.

One idea per module: `corrupt` (error injection), `mc` (Monte-Carlo labels), `teachers` (symbolic and model
teachers), `synth`, `filter`, `dialogue` (training text = inference text, with the loss mask), `train_config` +
`train`, `evaluate` (base vs distilled), `stages` (file-to-file), `run` (a TOML config), `commands` (the CLI).
"""
