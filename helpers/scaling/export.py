"""The modern decoder as a Hugging Face ``LlamaForCausalLM`` (or ``MixtralForCausalLM``).

:class:`helpers.scaling.decoder.ModernDecoder` with rotary positions has Llama's architecture
(Touvron et al. 2023) and, with experts, Mixtral's (Jiang et al. 2024), so its weights copy into
``transformers``' implementations: the tests compare the logits (1e-5) and greedy generation,
and later weeks can run ``transformers``' decoding utilities on a model trained here.
Names match one to one (``q_proj`` ... ``down_proj``), except that Mixtral stores its experts
stacked: ``gate_up_proj`` (n_experts, 2 d_ff, d_model) holds every expert's W and V, and
``down_proj`` (n_experts, d_model, d_ff) their W_2; the router is ``gate``.

Needs the ``transformers`` package (the ``dev`` extra; version 5 or later).
"""

from __future__ import annotations

import torch

from helpers.scaling.decoder import ModernDecoder

__all__ = ["to_huggingface"]


def to_huggingface(model: ModernDecoder):
    """A ``transformers`` causal LM (eval mode, on the model's device) holding our weights."""
    try:
        import transformers
    except ImportError as error:
        raise ImportError("to_huggingface needs transformers: pip install -e '.[dev]'") from error
    if not isinstance(model, ModernDecoder):
        raise ValueError(f"model must be a ModernDecoder, got {type(model).__name__}")
    c = model.config
    if c.position != "rope":
        raise ValueError(f"only rotary positions convert to Llama/Mixtral; this model uses position={c.position!r}")
    common = dict(
        vocab_size=c.vocab_size, hidden_size=c.n_embd, intermediate_size=c.d_ff, num_hidden_layers=c.n_layer,
        num_attention_heads=c.n_head, num_key_value_heads=c.n_kv_head, max_position_embeddings=c.block_size,
        rms_norm_eps=c.norm_eps, rope_parameters={"rope_type": "default", "rope_theta": c.rope_base},
        tie_word_embeddings=c.tie_weights, hidden_act="silu", bos_token_id=0, eos_token_id=None, pad_token_id=None,
        attn_implementation="eager",  # the plain softmax, as ours
    )  # fmt: skip
    if c.n_experts:
        config = transformers.MixtralConfig(
            **common, num_local_experts=c.n_experts, num_experts_per_tok=c.top_k, sliding_window=None, router_jitter_noise=0.0
        )
        hf = transformers.MixtralForCausalLM(config)
    else:
        hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**common, attention_bias=False, mlp_bias=False))
    with torch.no_grad():
        hf.model.embed_tokens.weight.copy_(model.tok_emb.weight)
        for ours, theirs in zip(model.blocks, hf.model.layers, strict=True):
            for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
                getattr(theirs.self_attn, name).weight.copy_(getattr(ours.attn, name).weight)
            theirs.input_layernorm.weight.copy_(ours.attn_norm.weight)
            theirs.post_attention_layernorm.weight.copy_(ours.ffn_norm.weight)
            if c.n_experts:
                theirs.mlp.gate.weight.copy_(ours.ffn.router.weight)
                experts = ours.ffn.experts
                theirs.mlp.experts.gate_up_proj.copy_(
                    torch.stack([torch.cat([e.gate_proj.weight, e.up_proj.weight]) for e in experts])
                )  # (E, 2 d_ff, d_model)
                theirs.mlp.experts.down_proj.copy_(torch.stack([e.down_proj.weight for e in experts]))  # (E, d_model, d_ff)
            else:
                for name in ("gate_proj", "up_proj", "down_proj"):
                    getattr(theirs.mlp, name).weight.copy_(getattr(ours.ffn, name).weight)
        hf.model.norm.weight.copy_(model.norm_f.weight)
        if not c.tie_weights:
            hf.lm_head.weight.copy_(model.head.weight)
    return hf.to(model.tok_emb.weight.device).eval()
