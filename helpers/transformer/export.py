"""The course's GPT as a Hugging Face ``GPT2LMHeadModel``, weight for weight.

Our :class:`helpers.transformer.GPT` (pre-LN, learned positions, GELU feed-forward, tied output
weights) has GPT-2's architecture (Radford et al. 2019, section 2.3), so its weights can be
copied into ``transformers``' implementation. The tests use this to check our forward pass and
generation against Hugging Face's; later weeks use it to run ``transformers``' decoding
utilities on a model trained in this course. GPT-2 stores its projections in ``Conv1D``
layers, whose weight is the transpose of ``nn.Linear``'s.

Needs the ``transformers`` package (the ``dev`` extra).
"""

from __future__ import annotations

import torch

from helpers.transformer.gpt import GPT

__all__ = ["to_huggingface"]


def to_huggingface(model: GPT):
    """A ``transformers.GPT2LMHeadModel`` (eval mode, on the model's device) with our weights."""
    try:
        import transformers
    except ImportError as error:
        raise ImportError("to_huggingface needs transformers: pip install -e '.[dev]'") from error
    c = model.config
    if c.pos_encoding != "learned" or not (c.norm_first and c.tie_weights and c.bias and c.residual and c.layer_norm):
        raise ValueError(
            f"only GPT-2's layout converts (learned positions, pre-LN, residuals, layer norms, tied weights, biases); got {c}"
        )
    hf = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(
            vocab_size=c.vocab_size, n_positions=c.block_size, n_embd=c.n_embd, n_layer=c.n_layer,
            n_head=c.n_head, n_inner=c.d_ff, activation_function="gelu", layer_norm_epsilon=1e-5,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0, pad_token_id=0,
        )
    )  # fmt: skip
    with torch.no_grad():
        hf.transformer.wte.weight.copy_(model.tok_emb.weight)
        hf.transformer.wpe.weight.copy_(model.pos_emb.embedding.weight)
        for block, h in zip(model.blocks, hf.transformer.h, strict=True):
            a = block.attn
            h.attn.c_attn.weight.copy_(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]).T)
            h.attn.c_attn.bias.copy_(torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]))
            h.attn.c_proj.weight.copy_(a.out_proj.weight.T)
            h.attn.c_proj.bias.copy_(a.out_proj.bias)
            h.mlp.c_fc.weight.copy_(block.ff.fc1.weight.T)
            h.mlp.c_fc.bias.copy_(block.ff.fc1.bias)
            h.mlp.c_proj.weight.copy_(block.ff.fc2.weight.T)
            h.mlp.c_proj.bias.copy_(block.ff.fc2.bias)
            for theirs, mine in ((h.ln_1, block.norm1), (h.ln_2, block.norm2)):
                theirs.weight.copy_(mine.weight)
                theirs.bias.copy_(mine.bias)
        hf.transformer.ln_f.weight.copy_(model.norm_f.weight)
        hf.transformer.ln_f.bias.copy_(model.norm_f.bias)
    return hf.to(model.tok_emb.weight.device).eval()
