"""Size and speed measurement: bytes counted once per storage, the same timing for every variant."""

from __future__ import annotations

import pytest
from torch import nn

from helpers.compression.layers import quantize_model
from helpers.compression.measure import (
    energy_per_query,
    latency,
    parameter_bytes,
    size_on_disk,
    throughput,
)
from helpers.transformer.gpt import GPT, GPTConfig


def test_parameter_bytes_counts_tied_weights_once():
    model = GPT(GPTConfig(vocab_size=50, block_size=8, n_layer=1, n_head=2, n_embd=16))
    assert parameter_bytes(model) == 4 * model.num_parameters()  # float32, the tied head counted once
    untied = GPT(GPTConfig(vocab_size=50, block_size=8, n_layer=1, n_head=2, n_embd=16, tie_weights=False))
    assert parameter_bytes(untied) - parameter_bytes(model) == 4 * 50 * 16


def test_quantized_sizes_follow_the_bits():
    layer = nn.Sequential(nn.Linear(256, 512))
    fp32 = parameter_bytes(layer)
    int8 = parameter_bytes(quantize_model(layer, 8))
    int4 = parameter_bytes(quantize_model(layer, 4, 128))
    assert int8 == 256 * 512 + 4 * 512 + 4 * 512  # int8 weights, a float32 scale per row, float32 bias
    assert int4 == 256 * 512 // 2 + 4 * 512 * 2 + 4 * 512  # packed nibbles, two groups of 128 per row
    assert fp32 == 4 * (256 * 512 + 512) and fp32 / int8 > 3.8  # close to 4x: the scales and bias stay float32
    on_disk = size_on_disk(quantize_model(layer, 8))
    assert int8 < on_disk < int8 + 4096  # torch.save adds a little framing


def test_size_on_disk_of_a_file(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"x" * 100)
    (tmp_path / "m.onnx.data").write_bytes(b"y" * 50)
    assert size_on_disk(path) == 150
    with pytest.raises(ValueError, match="not a file"):
        size_on_disk(tmp_path / "missing.onnx")


def test_latency_and_throughput_time_what_they_are_given():
    import time

    result = latency(lambda: time.sleep(0.002), repeats=5, warmup=1)
    assert 0.002 <= result.median <= result.p90 and result.repeats == 5
    assert throughput(lambda: time.sleep(0.002), items=10, repeats=3) < 10 / 0.002
    with pytest.raises(ValueError, match="repeats"):
        latency(lambda: None, repeats=1)


def test_energy_is_time_times_power():
    assert energy_per_query(0.5, 10.0) == 5.0
    with pytest.raises(ValueError):
        energy_per_query(0.1, 0.0)
