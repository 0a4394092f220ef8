"""Published model shapes and scaling-law constants, each with its source.

Shapes (for :func:`helpers.scaling.count_parameters` and friends):

- ``GPT2``: Radford et al. 2019, "Language models are unsupervised multitask learners", Table 2
  (layers, d_model) and section 2.3 (vocabulary of 50,257, context of 1024). The paper does not
  list the heads; the released checkpoints use d_head = 64 (12, 16, 20, 25 heads). The paper's
  parameter column (``GPT2_REPORTED``) says 117M for the smallest model, which has 124M: the
  released weights and our count agree on 124,439,808.
- ``GPT3``: Brown et al. 2020, "Language models are few-shot learners", Table 2.1 (n_layers,
  d_model, n_heads, d_head; n_ctx = 2048 for all; the same vocabulary as GPT-2) and section 2.2
  (300 billion training tokens for every size). Two rows of Table 2.1 do not multiply out: XL
  prints 24 heads of d_head = 128 (3072) with d_model = 2048, and 13B prints d_model = 5140 with
  40 heads of 128 (5120). Its parameter column fits d_attn = d_model for XL (1.3B; 3072 would
  give 1.5B), which we use; for 13B we keep the printed 5140 and 40 x 128.
- ``LLAMA2``: Touvron et al. 2023, "Llama 2", Table 1 (grouped-query attention for the 70B
  model, context 4096); layer counts, widths, heads and the vocabulary of 32,000 from the
  released ``config.json`` files (meta-llama/Llama-2-7b-hf, Llama-2-70b-hf).

Laws:

- ``KAPLAN``: Kaplan et al. 2020, section 1.2, equations (1.1)-(1.3): L(N) = (N_c / N)^alpha_N
  with N the non-embedding parameters, L(D) = (D_c / D)^alpha_D, L(C_min) = (C_c / C_min)^alpha_C
  (C in PF-days); loss in nats per token of WebText2 (GPT-2's BPE); and N_opt ~ C^0.73 (eq. 1.7).
- ``CHINCHILLA``: Hoffmann et al. 2022, "Training compute-optimal large language models",
  section 3.3, equation (10): L(N, D) = E + A / N^alpha + B / D^beta with E = 1.69, A = 406.4,
  B = 410.7, alpha = 0.34, beta = 0.28 (approach 3; loss in nats per token of MassiveText).
  Table 2 reports the compute-optimal exponents N_opt ~ C^a, D_opt ~ C^b of each approach:
  ``CHINCHILLA_EXPONENTS``. Chinchilla itself: 70B parameters, 1.4T tokens (section 4.1).
"""

from __future__ import annotations

from helpers.scaling.counting import TransformerShape

__all__ = [
    "CHINCHILLA",
    "CHINCHILLA_EXPONENTS",
    "CHINCHILLA_MODEL",
    "GPT2",
    "GPT2_REPORTED",
    "GPT3",
    "GPT3_REPORTED",
    "GPT3_TRAINING_TOKENS",
    "KAPLAN",
    "LLAMA2",
]


def _gpt2(n_layer: int, d_model: int, n_ctx: int = 1024) -> TransformerShape:
    return TransformerShape(vocab_size=50257, n_ctx=n_ctx, n_layer=n_layer, d_model=d_model, n_head=d_model // 64)


GPT2 = {
    "small": _gpt2(12, 768),
    "medium": _gpt2(24, 1024),
    "large": _gpt2(36, 1280),
    "XL": _gpt2(48, 1600),
}
GPT2_REPORTED = {"small": 117e6, "medium": 345e6, "large": 762e6, "XL": 1542e6}  # Table 2


def _gpt3(n_layer: int, d_model: int, n_head: int, d_attn: int | None = None) -> TransformerShape:
    return TransformerShape(vocab_size=50257, n_ctx=2048, n_layer=n_layer, d_model=d_model, n_head=n_head, d_attn=d_attn)


GPT3 = {  # Table 2.1: n_layers, d_model, n_heads (d_attn = d_model, see the module docstring)
    "Small": _gpt3(12, 768, 12),
    "Medium": _gpt3(24, 1024, 16),
    "Large": _gpt3(24, 1536, 16),
    "XL": _gpt3(24, 2048, 24),
    "2.7B": _gpt3(32, 2560, 32),
    "6.7B": _gpt3(32, 4096, 32),
    "13B": _gpt3(40, 5140, 40, d_attn=40 * 128),
    "175B": _gpt3(96, 12288, 96),
}
GPT3_REPORTED = {  # Table 2.1, n_params
    "Small": 125e6, "Medium": 350e6, "Large": 760e6, "XL": 1.3e9,
    "2.7B": 2.7e9, "6.7B": 6.7e9, "13B": 13.0e9, "175B": 175.0e9,
}  # fmt: skip
GPT3_TRAINING_TOKENS = 300e9  # section 2.2

LLAMA2 = {
    "7B": TransformerShape(
        vocab_size=32000, n_ctx=4096, n_layer=32, d_model=4096, n_head=32, d_ff=11008, ffn="swiglu",
        bias=False, norm="rmsnorm", learned_positions=False, tie_embeddings=False,
    ),
    "70B": TransformerShape(
        vocab_size=32000, n_ctx=4096, n_layer=80, d_model=8192, n_head=64, n_kv_head=8, d_ff=28672,
        ffn="swiglu", bias=False, norm="rmsnorm", learned_positions=False, tie_embeddings=False,
    ),
}  # fmt: skip

KAPLAN = {
    "alpha_N": 0.076, "N_c": 8.8e13,  # non-embedding parameters
    "alpha_D": 0.095, "D_c": 5.4e13,  # tokens
    "alpha_C": 0.050, "C_c": 3.1e8,  # PF-days, compute-efficient frontier
    "N_opt_exponent": 0.73,  # N_opt ~ C^0.73
}  # fmt: skip

CHINCHILLA = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}  # equation (10)
CHINCHILLA_EXPONENTS = {  # Table 2: N_opt ~ C^a, D_opt ~ C^b
    "approach 1": (0.50, 0.50),
    "approach 2": (0.49, 0.51),
    "approach 3": (0.46, 0.54),
    "Kaplan et al. 2020": (0.73, 0.27),
}
CHINCHILLA_MODEL = {"parameters": 70e9, "tokens": 1.4e12}  # section 4.1
