"""Verifiers genprm ships; inside the wheel as `genprm.models` (see pyproject.toml)."""
