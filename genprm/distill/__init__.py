"""Distillation: labelled solutions -> teacher critiques in the verifier's protocol -> filter -> fine-tune.

One idea per module: `corrupt` (error injection), `mc` (Monte-Carlo labels), `real` (human-labelled sources),
`teachers` (symbolic and model teachers), `synth`, `filter`, `dialogue` (training text = inference text, with the
loss mask), `train_config` + `train`, `stack` (adapters as one), `heldout` (base vs distilled) + `code_evidence`,
`stage_configs` + `stages` (file-to-file), `pipeline` (a TOML config). The CLI is `genprm/cli/distill.py`.
"""
