"""Prompt protocols as jinja2 templates; shipped inside the wheel as `genprm.prompts` (see pyproject.toml)."""
