"""genprm: generative process reward models.

    >>> from genprm import Verifier
    >>> v = Verifier.from_pretrained()
    >>> r = v.verify("What is 2 + 3 * 4?", ["3 * 4 = 12", "2 + 12 = 14"])
    >>> r.step_scores, r.first_error
"""

from genprm.config import VerifierConfig
from genprm.data import load_solutions, read_solutions
from genprm.errors import ConfigError, GenPRMError, InputError
from genprm.types import CodeRun, Solution, StepVerdict, VerificationResult
from genprm.verifier import Verifier

__all__ = [
    "CodeRun",
    "ConfigError",
    "GenPRMError",
    "InputError",
    "Solution",
    "StepVerdict",
    "VerificationResult",
    "Verifier",
    "VerifierConfig",
    "load_solutions",
    "read_solutions",
]
