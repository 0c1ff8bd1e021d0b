"""A real TRL GRPOTrainer run on CPU: SmolLM2-135M-Instruct (fp32) is the policy, genprm's reward (the default
verifier, direct mode, in-process) scores its completions step by step."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_grpo_trains_two_steps_on_genprm_rewards(tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from genprm import Verifier, VerifierConfig
    from genprm.backends.weights import default_model_dir
    from genprm.integrations import GenPRMReward

    problems = ["Tom has 3 boxes of 4 apples. How many apples does he have?",
                "A pen costs $2. How much do 5 pens cost?"]
    dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": p}]} for p in problems])
    verifier = Verifier.from_pretrained(config=VerifierConfig(mode="direct", batch_size=8), dtype="float32")
    reward = GenPRMReward(verifier)
    args = GRPOConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=4, num_generations=4,
                      max_completion_length=12, learning_rate=1e-5, logging_steps=1, report_to="none",
                      save_strategy="no", use_cpu=True, bf16=False, seed=0, dataloader_num_workers=0)
    trainer = GRPOTrainer(model=str(default_model_dir()), reward_funcs=[reward], args=args, train_dataset=dataset)
    trainer.train()
    verifier.close()

    logs = [entry for entry in trainer.state.log_history if "rewards/genprm/mean" in entry]
    assert trainer.state.global_step == 2 and len(logs) == 2
    # Completions differ, so do their process rewards: GRPO gets a signal (a constant reward has zero advantage).
    assert all(0.0 <= entry["rewards/genprm/mean"] <= 1.0 for entry in logs)
    stds = [entry["rewards/genprm/std"] for entry in logs]
    assert any(std > 0 for std in stds), stds
    assert reward.last_step_scores and all(len(s) >= 1 for s in reward.last_step_scores)
