"""Reference checks for helpers.pretraining.bert and the pre-trained MiniLM.

Oracles: ``transformers``' ``BertModel`` with the real all-MiniLM-L6-v2 weights (hidden states,
pooler and attention weights, with padding and attention masks, both attention paths),
sentence-transformers' ``encode()`` (mean pooling + L2 normalisation), and randomly initialised
``BertForMaskedLM`` / ``BertForPreTraining`` / ``BertForSequenceClassification`` built from
configs (MLM logits, loss and gradients; Google's gamma/beta checkpoint naming).
"""

import pytest
import torch

from helpers.pretraining import (
    BertConfig,
    BertEncoder,
    BertForMaskedLM,
    SequenceClassifier,
    encode_sentences,
    from_huggingface,
    load_minilm,
    load_state_dict,
    minilm_path,
    mlm_loss,
)

transformers = pytest.importorskip("transformers")

TOL = {"rtol": 1e-4, "atol": 1e-4}  # the bar for the 6-layer pre-trained model (float32)
TIGHT = {"rtol": 1e-5, "atol": 1e-5}  # tiny random models, two layers deep

SENTENCES = [
    "The cat sat on the mat.",
    "Albert Einstein published the general theory of relativity in 1915, a century after Napoleon's defeat.",
    "Hi!",
    "Masked language models read the words on both sides of a blank; causal ones only those before it.",
    "Crème brûlée, naïve café owners and the Zürich Hauptbahnhof (main station) are all tokenised without accents.",
    "Algae are a diverse group of aquatic organisms that have the ability to conduct photosynthesis.",
]


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


@pytest.fixture(scope="module")
def hf_minilm():
    return transformers.BertModel.from_pretrained(str(minilm_path()), attn_implementation="eager").eval()


@pytest.mark.parametrize("fast", [False, True])
def test_minilm_equals_transformers_bert_model_with_padding(minilm, hf_minilm, fast):
    ours, tok = minilm
    ours.config.fast = fast
    for block in ours.blocks:
        block.attn.fast = fast
    batch = tok(SENTENCES)
    assert (batch.attention_mask == 0).any(), "the batch must contain padding"
    with torch.no_grad():
        got = ours.run(batch.ids, batch.attention_mask, need_weights=not fast)
        expected = hf_minilm(input_ids=batch.ids, attention_mask=batch.attention_mask, output_attentions=True)
    real = batch.attention_mask.bool()
    torch.testing.assert_close(got.hidden[real], expected.last_hidden_state[real], **TOL)
    torch.testing.assert_close(got.hidden, expected.last_hidden_state, **TOL)  # padded rows too
    torch.testing.assert_close(got.pooled, expected.pooler_output, **TOL)
    if not fast:
        for layer, (w, w_ref) in enumerate(zip(got.weights, expected.attentions, strict=True)):
            torch.testing.assert_close(w, w_ref, **TOL, msg=f"attention weights of layer {layer}")
            assert (w[~real[:, None, None, :].expand_as(w)] == 0).all(), "nobody attends to padding"
    ours.config.fast = False
    for block in ours.blocks:
        block.attn.fast = False


def test_minilm_segments_and_padding_do_not_change_real_tokens(minilm, hf_minilm):
    ours, tok = minilm
    one = tok(["The cat sat on the mat."])
    padded = tok(["The cat sat on the mat.", SENTENCES[1]])
    segments = torch.zeros_like(padded.ids)
    segments[:, 4:] = 1  # segment B from the fifth token on
    with torch.no_grad():
        alone = ours(one.ids, one.attention_mask)
        in_batch = ours(padded.ids, padded.attention_mask)
        torch.testing.assert_close(in_batch[0, : one.ids.shape[1]], alone[0], **TOL)
        got = ours(padded.ids, padded.attention_mask, token_type_ids=segments)
        expected = hf_minilm(input_ids=padded.ids, attention_mask=padded.attention_mask, token_type_ids=segments)
    torch.testing.assert_close(got, expected.last_hidden_state, **TOL)


def test_mean_pooling_equals_sentence_transformers_encode(minilm):
    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(str(minilm_path()), device="cpu")
    ours, tok = minilm
    long_text = " ".join(["the history of the alphabet is long and winding"] * 40)  # > 256 tokens: truncated
    texts = SENTENCES + [long_text, "a"]
    expected = model.encode(texts, convert_to_tensor=True, batch_size=3)
    got = encode_sentences(ours, tok, texts, batch_size=4)
    torch.testing.assert_close(got, expected.cpu(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got.norm(dim=-1), torch.ones(len(texts)), rtol=0, atol=1e-5)
    unnormalised = encode_sentences(ours, tok, texts[:2], normalize=False)
    torch.testing.assert_close(torch.nn.functional.normalize(unnormalised, dim=-1), got[:2], **TIGHT)


def test_encode_sentences_keeps_the_order_and_does_not_depend_on_batching(minilm):
    ours, tok = minilm
    a = encode_sentences(ours, tok, SENTENCES, batch_size=2)
    b = encode_sentences(ours, tok, SENTENCES[::-1], batch_size=64)
    torch.testing.assert_close(a, b.flip(0), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="list of texts"):
        encode_sentences(ours, tok, "one string")


# ----------------------------------------------------------------------------- random models from configs
def hf_config(**overrides):
    values = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                  max_position_embeddings=40, type_vocab_size=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                  attn_implementation="eager")  # fmt: skip
    values.update(overrides)
    return transformers.BertConfig(**values)


def roughen(model, seed):
    """Non-trivial layer norms and biases (transformers initialises them to 1 and 0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                p.add_(0.3 * torch.randn(p.shape, generator=g))
    return model


def padded_ids(B=3, T=11, V=99, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, V, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[0, 7:] = 0
    mask[2, 4:] = 0
    return ids.masked_fill(mask == 0, 0), mask


def test_masked_lm_logits_loss_and_gradients_equal_transformers():
    torch.manual_seed(0)
    hf = roughen(transformers.BertForMaskedLM(hf_config()), 1).eval()
    ours = from_huggingface(hf)
    assert isinstance(ours, BertForMaskedLM) and ours.bert.pooler is None
    assert ours.head.decoder.weight is ours.bert.tok_emb.weight, "the MLM head is tied to the token embedding"
    ids, mask = padded_ids()
    with torch.no_grad():
        torch.testing.assert_close(ours(ids, mask), hf(input_ids=ids, attention_mask=mask).logits, **TIGHT)
    labels = torch.full_like(ids, -100)
    labels[:, 1::3] = ids[:, 1::3]
    labels[mask == 0] = -100
    ours.train()
    hf.train()  # dropout is 0: train mode must give the same numbers
    loss = mlm_loss(ours, (ids, labels), mask)
    ref = hf(input_ids=ids, attention_mask=mask, labels=labels).loss
    torch.testing.assert_close(loss, ref, **TIGHT)
    loss.backward()
    ref.backward()
    pairs = [(ours.bert.tok_emb.weight, hf.bert.embeddings.word_embeddings.weight),
             (ours.bert.blocks[0].attn.q_proj.weight, hf.bert.encoder.layer[0].attention.self.query.weight),
             (ours.bert.blocks[1].ff.fc1.bias, hf.bert.encoder.layer[1].intermediate.dense.bias),
             (ours.head.norm.weight, hf.cls.predictions.transform.LayerNorm.weight)]  # fmt: skip
    for mine, theirs in pairs:
        torch.testing.assert_close(mine.grad, theirs.grad, rtol=1e-4, atol=1e-6)


def test_google_checkpoint_naming_loads():
    """Google's converted checkpoints say gamma/beta and carry NSP weights: both are handled."""
    torch.manual_seed(1)
    hf = roughen(transformers.BertForPreTraining(hf_config()), 2).eval()
    state = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
             for k, v in hf.state_dict().items() if k != "cls.predictions.decoder.weight"}  # fmt: skip
    ours = BertForMaskedLM(BertConfig.from_huggingface(hf.config))
    load_state_dict(ours, state)
    ids, mask = padded_ids(seed=1)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(ids, mask), hf(input_ids=ids, attention_mask=mask).prediction_logits, **TIGHT)
    encoder = BertEncoder(BertConfig.from_huggingface(hf.config))
    load_state_dict(encoder, state)  # the encoder with its pooler, from the same file
    with torch.no_grad():
        torch.testing.assert_close(encoder.eval()(ids, mask), hf.bert(input_ids=ids, attention_mask=mask).last_hidden_state, **TIGHT)


def test_loading_refuses_wrong_checkpoints():
    hf = transformers.BertModel(hf_config())
    small = BertEncoder(BertConfig(vocab_size=99, n_embd=32, n_layer=3, n_head=4, d_ff=37, max_position=40))
    with pytest.raises(ValueError, match="lacks"):
        load_state_dict(small, hf.state_dict())  # a third block is missing
    wrong = BertEncoder(BertConfig(vocab_size=99, n_embd=32, n_layer=2, n_head=4, d_ff=64, max_position=40))
    with pytest.raises(ValueError, match="shape"):
        load_state_dict(wrong, hf.state_dict())
    extra = dict(hf.state_dict(), **{"encoder.layer.0.attention.self.rotary.weight": torch.zeros(3)})
    with pytest.raises(ValueError, match="does not use"):
        load_state_dict(BertEncoder(BertConfig.from_huggingface(hf.config)), extra)
    with pytest.raises(ValueError, match="GELU"):
        BertConfig.from_huggingface(hf_config(hidden_act="relu"))


def test_cls_classifier_equals_bert_for_sequence_classification():
    torch.manual_seed(2)
    hf = roughen(transformers.BertForSequenceClassification(hf_config(num_labels=5)), 3).eval()
    ours = SequenceClassifier(from_huggingface(hf.bert), n_classes=5, pooling="cls").eval()
    with torch.no_grad():
        ours.head.weight.copy_(hf.classifier.weight)
        ours.head.bias.copy_(hf.classifier.bias)
    ids, mask = padded_ids(seed=2)
    with torch.no_grad():
        torch.testing.assert_close(ours(ids, mask), hf(input_ids=ids, attention_mask=mask).logits, **TIGHT)


def test_dropout_only_in_training_and_bad_input():
    model = BertEncoder(BertConfig(vocab_size=50, n_embd=16, n_layer=1, n_head=2, max_position=8, dropout=0.5))
    ids = torch.randint(0, 50, (2, 8))
    model.train()
    assert not torch.allclose(model(ids), model(ids))
    model.eval()
    torch.testing.assert_close(model(ids), model(ids), rtol=0, atol=0)
    assert not any(isinstance(b.ff.dropout, torch.nn.Dropout) for b in model.blocks), "BERT: no dropout inside the FFN"
    with pytest.raises(ValueError, match="exceed max_position"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match=r"in \[0, 50\)"):
        model(torch.full((1, 3), 50))
    with pytest.raises(ValueError, match="LongTensor"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="shape of ids"):
        model(ids, attention_mask=torch.ones(2, 7))
    with pytest.raises(ValueError, match="multiple of n_head"):
        BertConfig(n_embd=30, n_head=4)
    maps = model.attention_maps(ids)
    assert maps.shape == (1, 2, 2, 8, 8) and model.training is False
    torch.testing.assert_close(maps.sum(-1), torch.ones(1, 2, 2, 8))
