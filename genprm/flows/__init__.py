"""Flows: how each protocol family talks to the model, as generators the verifier's driver batches (see `base`)."""

from types import ModuleType

from genprm.flows import critic, genprm, stepcheck, thinkprm

FLOWS: dict[str, ModuleType] = {"stepcheck": stepcheck, "genprm": genprm, "thinkprm": thinkprm, "critic": critic}
