"""Adapters that put genprm inside other people's loops. None of them imports a trainer: each module imports
without TRL, verl or OpenRLHF installed.

- `RemoteVerifier(url)`: the `Verifier` API (`verify`, `verify_many`, `iter_verify`) over HTTP to `genprm serve`.
- `GenPRMReward`: a TRL `GRPOTrainer` reward function, local (a `Verifier`) or remote (a URL).
- `genprm.integrations.verl.compute_score` / `compute_score_batch`: verl custom reward functions, remote.
- OpenRLHF needs no adapter: `genprm serve` speaks its remote reward protocol (`--remote_rm_url http://.../get_reward`).
"""

from genprm.integrations.remote import RemoteVerifier
from genprm.integrations.trl import GenPRMReward

__all__ = ["GenPRMReward", "RemoteVerifier"]
