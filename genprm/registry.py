"""Known verifiers, and `resolve`: the one place a model's settings become a final `VerifierConfig`.

A model's protocol comes from, in order: `--protocol`; a `genprm.json` ({"protocol": ...}) beside a local model or
adapter (the shipped default adapter has one); this registry (by hub id, or a local directory with the same name);
else the default protocol, with a one-line note. `genprm models` prints the registry. The choice reads no weights.
A genprm.json may also set the mode, threshold and claim check the model was trained and tuned for; flags win.
Its keys are VerifierConfig's fields; an older name ("arithmetic_check") is read as the field it became.
Everything downstream (the verifier, Ray replicas, the server, search) takes the resolved config as given.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path

from genprm.backends.base import LIVE_CHAINS
from genprm.config import VerifierConfig, canonical_keys

DEFAULT_PROTOCOL = "stepcheck"
MODEL_CONFIG = "genprm.json"
# What a VerifierConfig field left None means when neither the flags nor the model's genprm.json say.
FALLBACKS: dict[str, object] = {"mode": "code", "threshold": 0.5, "claim_check": False}


@dataclass(frozen=True)
class KnownVerifier:
    hub_id: str
    size: str
    protocol: str
    verdict: str
    """What is scored, and where."""
    sampling: str
    """The authors' sampling settings."""
    processbench_f1: float | None
    """Published ProcessBench F1 (%), as `source` reports it; None where we have not checked a number."""
    source: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


_GENPRM_VERDICT = "P(Yes) vs No after \\boxed{ in <output>, per paragraph"
_GENPRM_SAMPLING = "T=0.6 top_p=0.95 top_k=20, 2048 tokens/paragraph, 3 code rounds"
_GENPRM_SOURCE = "GenPRM paper (arXiv:2504.00891), ProcessBench table"
_THINKPRM_VERDICT = "\\boxed{correct|incorrect} per step; yes/no after 'Is the solution correct?'"
_THINKPRM_SAMPLING = "T=0.7, 8172 tokens/chain (8192 less 20 for the decision), decision T=1.0"
_THINKPRM_SOURCE = "ThinkPRM paper (arXiv:2504.16828), figure 'Verifier performance on ProcessBench'"
_CRITIC_VERDICT = "earliest wrong paragraph index in \\boxed{} (-1: none); samples vote"
_CRITIC_SAMPLING = "greedy, 8192 tokens; voting: T=1.0 top_p=0.9, 8 samples"
_CRITIC_SOURCE = "ProcessBench paper (arXiv:2412.06559), Table 3"

_ONE_PASS = "one forward pass per solution, no generation (hf backend)"
_QWEN_PRM_VERDICT = "softmax of the two-label head at each <extra_0> after a step, label 1"
_SHEPHERD_VERDICT = "P(+) over {+, -} next-token logits at each 'ки' step tag"
_RLHFLOW_VERDICT = "P(+) over {+, -} at the token before each step's assistant '+' turn"
_QWEN_PRM_SOURCE = "Qwen2.5-Math-PRM model card (format); F1 not checked here"

KNOWN: tuple[KnownVerifier, ...] = (
    KnownVerifier("genprm-smollm2-135m-lora", "135M", "verdict", "P( Yes) vs  No right after each step's 'Is the "
                  "step correct (Yes/No)?'; a step SymPy refutes scores 0", "one forward pass per step (--mode direct)",
                  None, "shipped default (models/genprm-smollm2-135m-lora)"),
    KnownVerifier("GenPRM/GenPRM-1.5B", "1.5B", "genprm", _GENPRM_VERDICT, _GENPRM_SAMPLING, None, _GENPRM_SOURCE),
    KnownVerifier("GenPRM/GenPRM-7B", "7B", "genprm", _GENPRM_VERDICT, _GENPRM_SAMPLING, None, _GENPRM_SOURCE),
    KnownVerifier("GenPRM/GenPRM-32B", "32B", "genprm", _GENPRM_VERDICT, _GENPRM_SAMPLING, None, _GENPRM_SOURCE),
    KnownVerifier("launch/ThinkPRM-1.5B", "1.5B", "thinkprm", _THINKPRM_VERDICT, _THINKPRM_SAMPLING, 76.0,
                  _THINKPRM_SOURCE),
    KnownVerifier("launch/ThinkPRM-7B", "7B", "thinkprm", _THINKPRM_VERDICT, _THINKPRM_SAMPLING, 73.7,
                  _THINKPRM_SOURCE),
    KnownVerifier("launch/ThinkPRM-14B", "14B", "thinkprm", _THINKPRM_VERDICT, _THINKPRM_SAMPLING, 86.5,
                  _THINKPRM_SOURCE),
    KnownVerifier("Qwen/QwQ-32B-Preview", "32B", "processbench-critic", _CRITIC_VERDICT, _CRITIC_SAMPLING, 71.5,
                  _CRITIC_SOURCE),
    KnownVerifier("Qwen/Qwen2.5-72B-Instruct", "72B", "processbench-critic", _CRITIC_VERDICT, _CRITIC_SAMPLING, None,
                  _CRITIC_SOURCE),
    KnownVerifier("Qwen/Qwen2.5-7B-Instruct", "7B", "processbench-critic", _CRITIC_VERDICT, _CRITIC_SAMPLING, None,
                  _CRITIC_SOURCE),
    # Discriminative PRMs (genprm/protocols/discriminative.py): a score read at each step, nothing generated.
    KnownVerifier("Qwen/Qwen2.5-Math-PRM-7B", "7B", "qwen-prm", _QWEN_PRM_VERDICT,
                  _ONE_PASS + ", --trust-remote-code", None, _QWEN_PRM_SOURCE),
    KnownVerifier("Qwen/Qwen2.5-Math-PRM-72B", "72B", "qwen-prm", _QWEN_PRM_VERDICT,
                  _ONE_PASS + ", --trust-remote-code", None, _QWEN_PRM_SOURCE),
    KnownVerifier("peiyi9979/math-shepherd-mistral-7b-prm", "7B", "math-shepherd", _SHEPHERD_VERDICT, _ONE_PASS, 31.5,
                  _CRITIC_SOURCE),
    KnownVerifier("RLHFlow/Llama3.1-8B-PRM-Mistral-Data", "8B", "rlhflow", _RLHFLOW_VERDICT, _ONE_PASS, 28.4,
                  _CRITIC_SOURCE),
    KnownVerifier("RLHFlow/Llama3.1-8B-PRM-Deepseek-Data", "8B", "rlhflow", _RLHFLOW_VERDICT, _ONE_PASS, 26.6,
                  _CRITIC_SOURCE),
)


def known(model: str) -> KnownVerifier | None:
    """The registry entry of a hub id (case-insensitive) or of a local directory named like one."""
    wanted = model.rstrip("/").lower()
    for entry in KNOWN:
        hub = entry.hub_id.lower()
        if wanted == hub or Path(wanted).name == hub.rsplit("/", 1)[-1]:
            return entry
    return None


def resolve(model: str | None, config: VerifierConfig | None = None, live_chains: int = LIVE_CHAINS["hf"]
            ) -> VerifierConfig:
    """The final config for `model` (as `--model` names it; None = the shipped default verifier): every field left
    None filled from the model's genprm.json, this registry, then genprm's fallbacks; `batch_size` from the
    backend's `live_chains` (`genprm.backends.base.LIVE_CHAINS`). The protocol is loaded (and so checked) here,
    before any weights, so a bad --protocol fails first. A resolved config comes back as it is."""
    from genprm.protocols import load

    config = config or VerifierConfig()
    if config.resolved:
        return config
    if config.batch_size is None:
        config = replace(config, batch_size=live_chains)
    declared = _model_config(model)
    if config.protocol is None:
        name, note = choose_protocol(model, declared)
        if note:
            print(f"genprm: {note}", file=sys.stderr, flush=True)
        config = replace(config, protocol=name)
    load(str(config.protocol))
    return with_fallbacks(config, {k: declared[k] for k in FALLBACKS if k in declared})


def with_fallbacks(config: VerifierConfig, settings: dict[str, object] | None = None) -> VerifierConfig:
    """`config` with each model-dependent field still None set from `settings` (a genprm.json's), else genprm's
    fallbacks; the protocol is left as it is."""
    settings = {**FALLBACKS, **(settings or {})}
    return replace(config, **{k: v for k, v in settings.items() if getattr(config, k) is None})


def choose_protocol(model: str | None, declared: dict[str, object] | None = None) -> tuple[str, str | None]:
    """(protocol, note) for `model` as `--model` names it (None = the shipped default verifier).

    The note, one line, says when the model is unknown and the default protocol is used.
    """
    from genprm.backends.weights import BASE_MODEL, DEFAULT_MODEL

    declared = _model_config(model) if declared is None else declared
    if "protocol" in declared:
        return str(declared["protocol"]), None
    if model is None or model in (DEFAULT_MODEL, BASE_MODEL):
        return DEFAULT_PROTOCOL, None
    if entry := known(model):
        return entry.protocol, None
    return DEFAULT_PROTOCOL, (f"no protocol known for {model}: using {DEFAULT_PROTOCOL} (pass --protocol, or put "
                              f'{MODEL_CONFIG} {{"protocol": ...}} beside the model)')


def _model_config(model: str | None) -> dict[str, object]:
    """The genprm.json of the shipped default adapter (None or its name) or of a local model directory; else {}."""
    from genprm.backends.weights import DEFAULT_MODEL

    is_default = model is None or model == DEFAULT_MODEL
    directory = Path(str(resources.files("genprm.models") / DEFAULT_MODEL)) if is_default else Path(model).expanduser()
    config = directory / MODEL_CONFIG
    if not config.is_file():
        return {}
    return canonical_keys(VerifierConfig, dict(json.loads(config.read_text(encoding="utf-8"))), str(config))
