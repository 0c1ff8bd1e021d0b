"""How a `ReadRequest` becomes tokens and read positions (the base model's real tokenizer, no model)."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from genprm.backends.base import ReadRequest
from genprm.backends.heads import candidate_ids, checkpoint_kind, tokens_and_positions
from genprm.backends.weights import default_model_dir
from genprm.errors import ConfigError


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(str(default_model_dir()))


def test_pieces_are_tokenized_apart_and_marks_read_the_token_before_them(tokenizer):
    text = "2 + 2 = 4.\n\n"
    whole = ReadRequest(pieces=(text,), marks=(10, len(text)))
    apart = ReadRequest(pieces=("2 + 2 = 4.\n", "\n"), marks=(10, len(text)))
    ids, positions = tokens_and_positions(tokenizer, whole)
    assert ids == tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.convert_ids_to_tokens([ids[p] for p in positions]) == [".", "ĊĊ"]  # one token in one string
    ids_apart, positions_apart = tokens_and_positions(tokenizer, apart)
    assert tokenizer.convert_ids_to_tokens([ids_apart[p] for p in positions_apart]) == [".", "Ċ"]
    assert len(ids_apart) == len(ids) + 1 and positions_apart[1] == len(ids_apart) - 1


def test_bos_goes_first_and_is_never_read(tokenizer):
    ids, positions = tokens_and_positions(tokenizer, ReadRequest(pieces=("ab",), marks=(2,), prepend_bos=True))
    assert ids[0] == tokenizer.bos_token_id and positions == [len(ids) - 1]
    with pytest.raises(ValueError, match="no token before character 0"):
        tokens_and_positions(tokenizer, ReadRequest(pieces=("ab",), marks=(0,), prepend_bos=True))


def test_candidates_must_be_one_token_each(tokenizer):
    assert len(candidate_ids(tokenizer, ["+", "-"])) == 2
    with pytest.raises(ConfigError, match="exactly one token"):
        candidate_ids(tokenizer, ["correct!?"])


def test_the_checkpoint_kind_comes_from_its_config(tmp_path):
    (tmp_path / "config.json").write_text('{"architectures": ["Qwen2ForTokenClassification"]}')
    assert checkpoint_kind(str(tmp_path)) == "token-classification"
    (tmp_path / "config.json").write_text('{"architectures": ["X"], "auto_map": {"AutoModel": "m.X"}}')
    assert checkpoint_kind(str(tmp_path)) == "remote-head"
    (tmp_path / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    assert checkpoint_kind(str(tmp_path)) == "causal"
    assert checkpoint_kind("some-org/a-hub-id") == "causal"


def test_a_hub_id_is_read_from_its_cached_config(tmp_path, monkeypatch):
    """A hub id `resolve_model` passed through has its config.json in the Hugging Face cache (fetched there)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    snapshot = tmp_path / "models--Qwen--Qwen2.5-Math-PRM-7B" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text('{"architectures": ["Qwen2ForProcessRewardModel"], '
                                          '"auto_map": {"AutoModel": "modeling_qwen2_rm.Qwen2ForProcessRewardModel"}}')
    (tmp_path / "models--Qwen--Qwen2.5-Math-PRM-7B" / "refs").mkdir()
    (tmp_path / "models--Qwen--Qwen2.5-Math-PRM-7B" / "refs" / "main").write_text("abc123")
    assert checkpoint_kind("Qwen/Qwen2.5-Math-PRM-7B") == "remote-head"
