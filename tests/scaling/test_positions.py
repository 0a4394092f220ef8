"""Reference checks for helpers.scaling.positions.

Oracles: ``transformers``' ``LlamaRotaryEmbedding`` and ``apply_rotary_pos_emb``; the rotation
matrix of Su et al. 2021 (equation 15), built as a block-diagonal matrix of 2 x 2 rotations; the
relative-position property <R_m q, R_n k> = f(q, k, n - m); ALiBi's slopes as printed in Press
et al. 2022 (section 3) and ``transformers``' BLOOM ``build_alibi_tensor`` for any head count.
"""

import doctest
import math

import pytest
import torch

from helpers.scaling import positions
from helpers.scaling.positions import alibi_bias, alibi_slopes, apply_rope, rope_angles, rotate_half


def test_docstring_examples():
    assert doctest.testmod(positions).failed == 0


def gen(seed):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- RoPE
@pytest.mark.parametrize("d_head,base", [(8, 10000.0), (16, 500000.0), (64, 10000.0)])
def test_rope_equals_hugging_face_llama(d_head, base):
    transformers = pytest.importorskip("transformers")
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

    n_head = 2
    config = transformers.LlamaConfig(hidden_size=n_head * d_head, num_attention_heads=n_head, rope_parameters={"rope_type": "default", "rope_theta": base})
    hf = LlamaRotaryEmbedding(config)
    T = 300
    q = torch.randn(3, n_head, T, d_head, generator=gen(0))
    k = torch.randn(3, n_head, T, d_head, generator=gen(1))
    position_ids = torch.arange(T)[None].expand(3, T)
    cos_hf, sin_hf = hf(q, position_ids)  # (B, T, d_head)
    cos, sin = rope_angles(T, d_head, base)
    torch.testing.assert_close(cos, cos_hf[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(sin, sin_hf[0], rtol=0, atol=1e-6)
    q_hf, k_hf = apply_rotary_pos_emb(q, k, cos_hf, sin_hf)
    torch.testing.assert_close(apply_rope(q, cos, sin), q_hf, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(apply_rope(k, cos, sin), k_hf, rtol=1e-5, atol=1e-6)


def paper_rotation(m: int, d: int, base: float = 10000.0) -> torch.Tensor:
    """Su et al. 2021, equation 15: block-diagonal 2 x 2 rotations by m theta_i on dims (2i, 2i+1)."""
    R = torch.zeros(d, d, dtype=torch.float64)
    for i in range(d // 2):
        angle = m * base ** (-2 * i / d)
        c, s = math.cos(angle), math.sin(angle)
        R[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    return R


def test_rope_is_the_papers_rotation_after_a_permutation():
    d = 8
    # the half-split layout pairs dimension i with i + d/2; the paper pairs 2i with 2i+1
    perm = torch.tensor([j for i in range(d // 2) for j in (i, i + d // 2)])  # paper dim -> our dim
    x = torch.randn(d, dtype=torch.float64, generator=gen(2))
    for m in (0, 1, 7, 1000):
        cos, sin = rope_angles(torch.tensor([m]), d, dtype=torch.float64)
        ours = apply_rope(x[None], cos, sin)[0]
        paper = paper_rotation(m, d) @ x[perm]
        torch.testing.assert_close(ours[perm], paper, rtol=0, atol=1e-12)


def test_scores_depend_only_on_relative_position():
    d = 16
    q, k = torch.randn(2, d, dtype=torch.float64, generator=gen(3)).unbind(0)

    def score(m, n):
        cos, sin = rope_angles(torch.tensor([m, n]), d, dtype=torch.float64)
        rq = apply_rope(q[None], cos[:1], sin[:1])[0]
        rk = apply_rope(k[None], cos[1:], sin[1:])[0]
        return float(rq @ rk)

    for m, n in [(0, 0), (3, 10), (50, 7), (1000, 999)]:
        for shift in (1, 17, 4096):
            assert score(m + shift, n + shift) == pytest.approx(score(m, n), abs=1e-10)
    assert score(0, 5) != pytest.approx(score(0, 6), abs=1e-3)  # the distance does matter
    cos, sin = rope_angles(20, d, dtype=torch.float64)
    x = torch.randn(20, d, dtype=torch.float64, generator=gen(4))
    torch.testing.assert_close(apply_rope(x, cos, sin).norm(dim=-1), x.norm(dim=-1), rtol=1e-12, atol=0)  # a rotation
    torch.testing.assert_close(rotate_half(rotate_half(x)), -x)


def test_rope_follows_dtype_and_rejects_bad_input():
    cos, sin = rope_angles(4, 8, dtype=torch.float64)
    assert cos.dtype == torch.float64
    with pytest.raises(ValueError, match="even"):
        rope_angles(4, 7)
    with pytest.raises(ValueError, match="rope_angles"):
        apply_rope(torch.zeros(5, 8), cos, sin)


# ----------------------------------------------------------------------------- ALiBi
def test_alibi_slopes_as_in_the_paper():
    # section 3: "For a model with 8 heads, the slopes we used are the geometric sequence 1/2^1, ..., 1/2^8";
    # for 16 heads, 1/2^0.5, 1/2^1, 1/2^1.5, ..., 1/2^8
    torch.testing.assert_close(alibi_slopes(8), torch.tensor([2.0**-h for h in range(1, 9)]))
    torch.testing.assert_close(alibi_slopes(16), torch.tensor([2.0 ** (-h / 2) for h in range(1, 17)]))


@pytest.mark.parametrize("n_heads", list(range(1, 34)) + [48, 96])
def test_alibi_equals_bloom_for_any_head_count(n_heads):
    pytest.importorskip("transformers")
    from transformers.models.bloom.modeling_bloom import build_alibi_tensor

    T = 9
    bloom = build_alibi_tensor(torch.ones(2, T, dtype=torch.long), n_heads, torch.float32)  # (B * nh, 1, T): m_h * j
    bloom = bloom.view(2, n_heads, 1, T)[0]  # (nh, 1, T)
    slopes = alibi_slopes(n_heads)
    torch.testing.assert_close(slopes, bloom[:, 0, 1], rtol=1e-6, atol=0)
    ours = alibi_bias(slopes, T)  # (nh, T, T): -m_h (i - j)
    # BLOOM adds m_h j; ours adds m_h (j - i): the same up to a constant per query row, which softmax ignores
    difference = ours - bloom
    torch.testing.assert_close(difference, difference[..., :1].expand_as(difference), rtol=0, atol=1e-5)
    scores = torch.randn(n_heads, T, T, generator=gen(n_heads))
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    ours_w = torch.softmax((scores + ours).masked_fill(~causal, float("-inf")), -1)
    bloom_w = torch.softmax((scores + bloom).masked_fill(~causal, float("-inf")), -1)
    torch.testing.assert_close(ours_w, bloom_w, rtol=1e-5, atol=1e-6)


def test_alibi_bias_is_the_distance_times_the_slope_and_fits_a_cache():
    slopes = alibi_slopes(4)
    full = alibi_bias(slopes, 7)
    for h in range(4):
        for i in range(7):
            for j in range(i + 1):
                assert full[h, i, j].item() == pytest.approx(-slopes[h].item() * (i - j))
    torch.testing.assert_close(alibi_bias(slopes, 2, 7), full[:, -2:])  # the last two queries of seven positions
    with pytest.raises(ValueError, match="t_q"):
        alibi_bias(slopes, 5, 3)
    with pytest.raises(ValueError, match="n_heads"):
        alibi_slopes(0)
