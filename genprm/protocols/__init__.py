"""Protocols: how a verifier is asked, and how its answers are read.

A protocol is a jinja2 template in `prompts/` (every word sent to the model; `genprm protocols` lists them) plus the
module here that runs it, named by the template's `flow` variable. Each module owns everything about its protocol:
the conversation (a chain, see `chain`), which template variables and macros it needs, how its samples combine,
how a step's critique reads for `genprm search --strategy refine`, and, where it can, how a critique is rendered
as training text. The driver, search, distill and serve ask the protocol; nothing outside this package tests a
protocol's name.

    stepcheck            genprm's own formats (`stepcheck`, `stepcheck-onepass`, `verdict`, users' templates)
    genprm_paper         GenPRM (Liu et al. 2025): a dialogue turn per paragraph, code rounds, P(Yes) per paragraph
    thinkprm             ThinkPRM (Khalifa et al. 2025): one long verification chain with a verdict per step
    processbench_critic  the ProcessBench critic (Zheng et al. 2024): the index of the earliest wrong paragraph
    discriminative       discriminative PRMs (`qwen-prm`, `math-shepherd`, `rlhflow`, `token-classification`): no
                         generation, one forward pass per solution, a head or +/- logits read at each step
    claim_check          not a protocol: the sandboxed check of a step's claims (`--claim-check`), beside any of them
"""

from genprm.protocols.template import Message, VerificationProtocol, builtin_protocols, load, parse_messages

__all__ = ["Message", "VerificationProtocol", "builtin_protocols", "load", "parse_messages"]
