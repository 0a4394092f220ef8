"""The BERT-base switch: offline it fails at once with a clear ConnectionError (never a hang),
and a checkpoint in the cache loads into the course's model. The real 440 MB file is never
fetched in tests: a tiny checkpoint in Google's naming stands in for it, with its checksum."""

import threading
import time

import pytest
import torch

from helpers.pretraining import pretrained
from helpers.pretraining.bert import BertConfig


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEXTWORD_CACHE", str(tmp_path))
    return tmp_path


def test_offline_flag_fails_at_once(empty_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="USE_BERT_BASE = False"):
        pretrained.load_bert_base()
    assert time.perf_counter() - start < 30  # a hang, not a slow import under load, fails this


def test_a_dead_network_fails_within_the_timeout(empty_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    release = threading.Event()

    def hang(*args, **kwargs):  # a resolver or firewall that never answers
        release.wait(30)
        raise OSError("gave up")

    monkeypatch.setattr(pretrained.socket, "create_connection", hang)
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="no answer within 1 s"):
        pretrained.load_bert_base(timeout=1.0)
    assert time.perf_counter() - start < 30  # a hang, not a slow import under load, fails this
    release.set()


def test_a_refused_connection_fails_clearly(empty_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(pretrained.socket, "create_connection", refuse)
    with pytest.raises(ConnectionError, match="you seem to be offline"):
        pretrained.load_bert_base(timeout=1.0)


def test_a_cached_checkpoint_loads_without_network(empty_cache, monkeypatch):
    transformers = pytest.importorskip("transformers")
    from safetensors.torch import save_file

    from helpers.data.download import sha256sum

    config = transformers.BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=24, max_position_embeddings=32)  # fmt: skip
    torch.manual_seed(0)
    hf = transformers.BertForPreTraining(config).eval()
    state = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v.contiguous()
             for k, v in hf.state_dict().items() if "decoder" not in k}  # fmt: skip
    folder = empty_cache / "downloads"
    folder.mkdir()
    path = folder / f"bert-base-uncased-{pretrained.BERT_BASE_REVISION[:7]}.safetensors"
    save_file(state, path)
    monkeypatch.setattr(pretrained, "BERT_BASE_SHA256", sha256sum(path))
    monkeypatch.setattr(pretrained, "bert_base_config", lambda: BertConfig.from_huggingface(config))
    monkeypatch.setattr(pretrained.socket, "create_connection", lambda *a, **k: pytest.fail("no network needed"))
    model, tok = pretrained.load_bert_base()
    batch = tok(["the capital of france is [MASK] ."])
    with torch.no_grad():
        expected = hf(input_ids=batch.ids, attention_mask=batch.attention_mask).prediction_logits
        torch.testing.assert_close(model(batch.ids, batch.attention_mask), expected, rtol=1e-5, atol=1e-5)


def test_bert_base_config_is_the_published_one():
    c = pretrained.bert_base_config()
    assert (c.n_layer, c.n_embd, c.n_head, c.d_ff, c.vocab_size) == (12, 768, 12, 3072, 30522)
    from helpers.pretraining import BertForMaskedLM, count_parameters

    n = count_parameters(BertForMaskedLM(c, add_pooler=True))
    assert 109e6 < n < 111e6, n  # "110M" (Devlin et al. 2019, section 3)
