"""Export to ONNX: ONNX Runtime gives PyTorch's outputs (to 1e-4) for the course's GPT and for
MiniLM, at other batch sizes and lengths than the example input; the models' value checks still
work in eager mode."""

from __future__ import annotations

import pytest
import tomllib
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from helpers.compression.layers import quantize_model  # noqa: E402
from helpers.compression.measure import size_on_disk  # noqa: E402
from helpers.compression.onnx_export import (  # noqa: E402
    DEPLOY_REQUIREMENTS,
    OnnxModel,
    export_onnx,
    quantize_onnx,
)
from helpers.course.notebooks import ROOT  # noqa: E402
from helpers.transformer.gpt import GPT, GPTConfig  # noqa: E402


@pytest.fixture(scope="module")
def gpt():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=40, block_size=24, n_layer=2, n_head=4, n_embd=32, fast=True)).eval()


@pytest.mark.parametrize("fast", [True, False])
def test_gpt_exports_and_equals_pytorch(tmp_path, fast):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=40, block_size=24, n_layer=2, n_head=4, n_embd=32, fast=fast)).eval()
    path = export_onnx(model, (torch.randint(0, 40, (2, 10)),), tmp_path / "gpt.onnx", ["idx"], ["logits"], max_length=24)
    session = OnnxModel(path)
    for shape in [(1, 1), (1, 24), (5, 13)]:
        x = torch.randint(0, 40, shape)
        with torch.no_grad():
            torch.testing.assert_close(session(x), model(x), rtol=1e-4, atol=1e-4)
    assert size_on_disk(path) > 4 * model.num_parameters()  # one self-contained file holds the weights


def test_value_checks_still_run_in_eager_mode(gpt):
    with pytest.raises(ValueError, match="token ids must be in"):
        gpt(torch.tensor([[1, 40]]))
    with pytest.raises(ValueError, match="token ids must be in"):
        gpt(torch.tensor([[-1, 2]]))
    with pytest.raises(ValueError, match="exceed block_size"):
        gpt(torch.zeros(1, 25, dtype=torch.long))


def test_weight_only_quantized_gpt_exports(tmp_path, gpt):
    q = quantize_model(gpt, 4, 32, exclude=["head"])
    path = export_onnx(q, (torch.randint(0, 40, (1, 8)),), tmp_path / "q.onnx", ["idx"], max_length=24)
    x = torch.randint(0, 40, (3, 20))
    with torch.no_grad():
        torch.testing.assert_close(OnnxModel(path)(x), q(x), rtol=1e-4, atol=1e-4)
    assert size_on_disk(path) < size_on_disk(export_onnx(gpt, (x,), tmp_path / "f.onnx", ["idx"], max_length=24))


def test_minilm_classifier_exports_with_padding_and_quantizes(tmp_path):
    from helpers.pretraining.finetune import SequenceClassifier
    from helpers.pretraining.pretrained import load_minilm

    encoder, tok = load_minilm(fast=True)
    torch.manual_seed(0)
    model = SequenceClassifier(encoder, 6).eval()
    example = tok(["A short one.", "A second, somewhat longer sentence to pad the first."])
    path = export_onnx(model, (example.ids, example.attention_mask), tmp_path / "minilm.onnx", ["ids", "attention_mask"], ["logits"])
    session = OnnxModel(path)
    batch = tok(["Alkali metals react with water.", "The aardwolf eats termites.", "Paris is the capital of France, on the Seine."])
    with torch.no_grad():
        expected = model(batch.ids, batch.attention_mask)
        hidden = encoder(batch.ids, batch.attention_mask)
    torch.testing.assert_close(session(batch.ids, batch.attention_mask), expected, rtol=1e-4, atol=1e-4)
    assert hidden.shape[0] == 3
    int8 = OnnxModel(quantize_onnx(path, tmp_path / "minilm-int8.onnx"))
    assert size_on_disk(int8.path) < 0.35 * size_on_disk(path)
    import onnx

    floats = [i.name for i in onnx.load(str(int8.path)).graph.initializer if i.data_type == onnx.TensorProto.FLOAT
              and len(i.dims) == 2 and min(i.dims) > 8]  # fmt: skip
    assert not floats, f"weight matrices left in float by ONNX Runtime's quantizer: {floats[:3]}"
    agree = (int8(batch.ids, batch.attention_mask).argmax(-1) == expected.argmax(-1)).float().mean()
    assert float((int8(batch.ids, batch.attention_mask) - expected).abs().max()) < 0.5 and float(agree) >= 2 / 3


def test_deploy_requirements_are_the_pyproject_extra():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert tuple(extras["deploy"]) == DEPLOY_REQUIREMENTS
    assert "nextword[deploy]" in extras["dev"]
