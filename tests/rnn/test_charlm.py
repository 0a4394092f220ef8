"""helpers.rnn.charlm: state continuation, sampling against the softmax it should follow and against
a plain sampling loop, greedy decoding against a full forward pass, streamed loss against the
unchunked loss."""

import math

import pytest
import torch
from torch import nn

from helpers.data import Vocab
from helpers.rnn import CharLM, CharLMConfig, generate, sample, stream_loss

torch.set_num_threads(1)  # tiny tensors: more threads only add overhead (and CI runs test files in parallel)


def _model(cell="lstm", seed=0, V=13):
    torch.manual_seed(seed)
    return CharLM(CharLMConfig(vocab_size=V, hidden_size=16, embed_dim=6, cell=cell)).double()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "rnn_relu"])
@pytest.mark.parametrize("fast", [False, True])
def test_forward_shapes_and_state_continuation(cell, fast):
    model = _model(cell)
    model.rnn.fast = fast
    ids = torch.randint(0, 13, (2, 12), generator=torch.Generator().manual_seed(0))
    logits, _ = model(ids)
    assert logits.shape == (2, 12, 13)
    first, state = model(ids[:, :5])
    second, _ = model(ids[:, 5:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), logits)


class _FixedLogits(nn.Module):
    """A 'language model' whose next-id scores never change: sampling must follow softmax(z/T)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = nn.Parameter(logits)

    def forward(self, ids, state=None):
        B, T = ids.shape
        return self.logits.expand(B, T, -1), state


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_sampling_follows_the_tempered_softmax(temperature):
    z = torch.tensor([2.0, 1.0, 0.0, -1.0, 0.5])
    draws = sample(_FixedLogits(z), torch.tensor([0]), 20_000, temperature, torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=5).double() / len(draws)
    expected = torch.softmax(z.double() / temperature, dim=0)
    # binomial standard error is at most 0.0036 for 20 000 draws: allow about 4 of them
    torch.testing.assert_close(freq, expected, rtol=0, atol=0.015)


def test_temperature_zero_is_greedy_and_consistent_with_a_full_forward_pass():
    model = _model("lstm", seed=3)
    prompt = torch.tensor([1, 4, 2])
    out = sample(model, prompt, 15, temperature=0)
    full = torch.cat([prompt, out])
    logits, _ = model(full[None])
    greedy = logits[0, len(prompt) - 1 : -1].argmax(-1)  # prediction made before each new id
    assert torch.equal(out, greedy)


def test_sampling_is_reproducible_and_does_not_change_the_model():
    model = _model("rnn")
    model.train()
    a = sample(model, torch.tensor([3]), 30, 1.0, torch.Generator().manual_seed(5))
    b = sample(model, torch.tensor([3]), 30, 1.0, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.dtype == torch.long and len(a) == 30
    assert model.training  # restored
    assert len(sample(model, torch.tensor([3]), 0)) == 0


def test_sample_draws_what_a_plain_loop_draws():
    """sample() goes through helpers.decoding; it must draw exactly what the loop it replaced drew:
    the prompt once, then one token at a time, torch.multinomial on softmax(logits / T)."""
    model = _model("lstm", seed=3).eval()
    prompt = torch.tensor([1, 4, 2])
    for temperature in (1.0, 0.6, 1.7):
        g = torch.Generator().manual_seed(5)
        logits, state = model(prompt[None])
        expected = []
        for _ in range(40):
            probs = torch.softmax(logits[0, -1].float() / temperature, dim=-1)
            expected.append(int(torch.multinomial(probs, 1, generator=g)[0]))
            logits, state = model(torch.tensor([[expected[-1]]]), state)
        assert sample(model, prompt, 40, temperature, torch.Generator().manual_seed(5)).tolist() == expected


def test_stream_loss_equals_the_unchunked_loss():
    model = _model("lstm", seed=1)
    ids = torch.randint(0, 13, (81,), generator=torch.Generator().manual_seed(4))
    x, y = ids[:80].view(4, 20), ids[1:81].view(4, 20)
    logits, _ = model(x)
    expected = nn.functional.cross_entropy(logits.reshape(-1, 13), y.reshape(-1)).item()
    assert stream_loss(model, ids, batch_size=4, bptt=7) == pytest.approx(expected, rel=1e-10)


def test_an_untrained_uniform_model_scores_log_v():
    model = _model("lstm")
    with torch.no_grad():
        model.head.weight.zero_(), model.head.bias.zero_()
    ids = torch.randint(0, 13, (50,), generator=torch.Generator().manual_seed(0))
    assert stream_loss(model, ids, 2, 8) == pytest.approx(math.log(13), rel=1e-12)


def test_generate_learns_a_pattern():
    vocab = Vocab.from_text("abcd")
    torch.manual_seed(0)
    model = CharLM(CharLMConfig(vocab_size=len(vocab), hidden_size=16, embed_dim=4, fast=True))
    ids = vocab.encode("abcd" * 100)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        x = torch.stack([ids[s : s + 20] for s in range(0, 200, 10)])
        y = torch.stack([ids[s + 1 : s + 21] for s in range(0, 200, 10)])
        logits, _ = model(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
        optimizer.zero_grad(), loss.backward(), optimizer.step()
    assert generate(model, vocab, "ab", 10, temperature=0) == "abcdabcdabcd"


def test_clear_errors():
    model = _model()
    with pytest.raises(ValueError, match="temperature"):
        sample(model, torch.tensor([1]), 5, temperature=-1)
    with pytest.raises(ValueError, match="temperature"):
        sample(model, torch.tensor([1]), 5, temperature=float("nan"))
    with pytest.raises(ValueError, match="prompt"):
        sample(model, torch.tensor([], dtype=torch.long), 5)
    with pytest.raises(ValueError, match="cell"):
        CharLMConfig(vocab_size=5, cell="transformer")
    with pytest.raises(ValueError, match="hidden_size"):
        CharLMConfig(vocab_size=5, hidden_size=0)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.tensor([1, 2]))
