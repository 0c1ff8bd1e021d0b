"""From a trainer's text to a solution: the problem out of a (chat-templated) prompt, the completion out of the
query, and the completion cut into steps by a rule.

RL trainers hand a reward model strings, not steps: OpenRLHF sends `query` = prompt + completion as the policy's
tokenizer decoded them (chat template and special tokens included) and `prompts` = the prompt alone. A policy's
steps are separated however its training data separated them, hence the rules:

    blank         paragraphs: split at blank lines
    lines         every non-empty line is a step
    step          split before "Step 1:", "**Step 2.**", "## Step 3" markers (text before the first is a step too)
    regex:PAT     split wherever the regular expression PAT matches (the match is dropped)
    auto          `step` when there are two or more markers, else `blank` when there is a blank line, else `lines`
"""

from __future__ import annotations

import re

from genprm.errors import ConfigError

RULES = ("auto", "blank", "lines", "step")
_STEP_MARKER = re.compile(r"(?im)^[ \t]*(?:[#*_]+[ \t]*)?step[ \t]*\d+[ \t]*[:.)]")
_BLANK = re.compile(r"\n[ \t]*\n")
# Chat turns of the two template families trainers mostly use: ChatML (SmolLM2, Qwen) and Llama 3.
_TURNS = (re.compile(r"<\|im_start\|>(\w+)\n(.*?)(?:<\|im_end\|>|$)", re.S),
          re.compile(r"<\|start_header_id\|>(\w+)<\|end_header_id\|>\n\n(.*?)(?:<\|eot_id\|>|$)", re.S))
_SPECIAL_TOKEN = re.compile(r"<\|[^|<>\s]{1,40}\|>|</?s>|<pad>|<unk>")


def check_rule(rule: str) -> None:
    """Raise ConfigError unless `rule` is one of RULES or a valid regex:PATTERN."""
    if rule.startswith("regex:"):
        try:
            pattern = re.compile(rule[len("regex:"):])
        except re.error as e:
            raise ConfigError("step_split", f"a valid regular expression after regex: ({e})", rule) from None
        if pattern.search("") is not None:
            raise ConfigError("step_split", "a regex:PATTERN that cannot match the empty string", rule)
    elif rule not in RULES:
        raise ConfigError("step_split", f"one of {', '.join(RULES)} or regex:PATTERN", rule)


def split_steps(text: str, rule: str = "auto") -> list[str]:
    """Cut `text` into non-empty, stripped steps by `rule` (see the module docstring)."""
    if rule == "auto":
        rule = ("step" if len(_STEP_MARKER.findall(text)) >= 2 else "blank" if _BLANK.search(text.strip())
                else "lines")
    if rule == "blank":
        parts = _BLANK.split(text)
    elif rule == "lines":
        parts = text.splitlines()
    elif rule == "step":
        starts = [0] + [m.start() for m in _STEP_MARKER.finditer(text)] + [len(text)]
        parts = [text[a:b] for a, b in zip(starts, starts[1:], strict=False)]
    else:
        pattern = re.compile(rule[len("regex:"):])
        cuts = [(m.start(), m.end()) for m in pattern.finditer(text)]
        ends = [start for start, _ in cuts] + [len(text)]
        starts = [0] + [end for _, end in cuts]
        parts = [text[a:b] for a, b in zip(starts, ends, strict=True)]
    return [p.strip() for p in parts if p.strip()]


def fit_steps(steps: list[str], max_steps: int, max_chars: int) -> list[str]:
    """Make steps fit the server's limits instead of refusing them: a trainer cannot fix its policy's output.

    Steps past `max_steps` are joined onto the last one; a step longer than `max_chars` keeps its first
    `max_chars` characters.
    """
    if len(steps) > max_steps:
        steps = steps[: max_steps - 1] + ["\n".join(steps[max_steps - 1:])]
    return [s[:max_chars] for s in steps]


def split_query(query: str, prompt: str | None = None) -> tuple[str, str]:
    """(problem, completion) of one OpenRLHF query: the last user turn of the prompt, the text after it."""
    if prompt and query.startswith(prompt):
        completion = query[len(prompt):]
    elif (turns := _turns(query)) and turns[-1][0] == "assistant":
        completion = turns[-1][1]
    elif prompt and prompt in query:
        completion = query[query.rindex(prompt) + len(prompt):]
    else:
        completion = query
    problem = problem_of(prompt if prompt else query[: len(query) - len(completion)])
    return problem, _SPECIAL_TOKEN.sub("", completion)


def _turns(text: str) -> list[tuple[str, str]]:
    for pattern in _TURNS:
        if turns := pattern.findall(text):
            return turns
    return []


def problem_of(prompt: str) -> str:
    """The last user turn of a chat-templated prompt; a plain prompt minus special tokens."""
    users = [content for role, content in _turns(prompt) if role == "user"]
    return (users[-1] if users else _SPECIAL_TOKEN.sub("", prompt)).strip()
