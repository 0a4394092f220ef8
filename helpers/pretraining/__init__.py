"""Week 6, pre-training: BERT's masked LM, a BERT encoder from the week-5 parts, a real
pre-trained MiniLM that works offline, fine-tuning, and the data to fine-tune on.

The API later weeks build on:

- models: :class:`BertConfig`, :class:`BertEncoder`, :class:`BertForMaskedLM`,
  :func:`from_huggingface`, :func:`load_state_dict`;
- pre-trained weights: :func:`load_minilm` (offline, bundled), :func:`load_bert_base` (internet),
  :class:`WordPieceTokenizer`, :func:`encode_sentences`, :func:`mean_pool`;
- objectives: :func:`mask_tokens`, :func:`mlm_loss`, :func:`causal_lm_loss`, :func:`mlm_windows`,
  :func:`mlm_batches`, :func:`evaluate_mlm_loss`, :func:`visibility`;
- fine-tuning: :class:`SequenceClassifier`, :func:`freeze_layers`, :func:`parameter_groups`,
  :func:`count_parameters`, :func:`fine_tune`, :func:`predict`, :func:`accuracy`;
- data and baseline: :func:`load_topics` (Wikipedia sentences labelled by topic, split by
  article; it lives here, in :mod:`helpers.pretraining.topics`), :func:`load_polarity_splits`,
  :func:`tfidf_baseline`; :func:`load_learning_curve` and :func:`load_sweep` read the benchmark's committed
  results, :func:`learning_curve_point` computes one of them.
"""

from helpers.pretraining.baseline import tfidf_baseline
from helpers.pretraining.bert import (
    BertConfig,
    BertEncoder,
    BertForMaskedLM,
    BertOutput,
    MLMHead,
    from_huggingface,
    load_state_dict,
)
from helpers.pretraining.finetune import (
    ClassifierBatch,
    SequenceClassifier,
    accuracy,
    classification_batches,
    classification_loss,
    count_parameters,
    fine_tune,
    freeze_layers,
    parameter_groups,
    predict,
)
from helpers.pretraining.masking import IGNORE_INDEX, mask_tokens
from helpers.pretraining.objectives import (
    MLMBatch,
    causal_lm_loss,
    evaluate_mlm_loss,
    mlm_batches,
    mlm_loss,
    mlm_windows,
    visibility,
)
from helpers.pretraining.pretrained import (
    encode_sentences,
    load_bert_base,
    load_minilm,
    mean_pool,
    minilm_path,
)
from helpers.pretraining.results import learning_curve_point, load_learning_curve, load_sweep
from helpers.pretraining.tokenizer import Batch, SubVocabulary, WordPieceTokenizer, pad_batch
from helpers.pretraining.topics import (
    TOPICS,
    LabelledSentence,
    TextTask,
    load_polarity_splits,
    load_topics,
)

__all__ = [
    "IGNORE_INDEX",
    "TOPICS",
    "Batch",
    "BertConfig",
    "BertEncoder",
    "BertForMaskedLM",
    "BertOutput",
    "ClassifierBatch",
    "LabelledSentence",
    "MLMBatch",
    "MLMHead",
    "SequenceClassifier",
    "SubVocabulary",
    "TextTask",
    "WordPieceTokenizer",
    "accuracy",
    "causal_lm_loss",
    "classification_batches",
    "classification_loss",
    "count_parameters",
    "encode_sentences",
    "evaluate_mlm_loss",
    "fine_tune",
    "freeze_layers",
    "from_huggingface",
    "load_bert_base",
    "learning_curve_point",
    "load_learning_curve",
    "load_minilm",
    "load_polarity_splits",
    "load_state_dict",
    "load_sweep",
    "load_topics",
    "mask_tokens",
    "mean_pool",
    "minilm_path",
    "mlm_batches",
    "mlm_loss",
    "mlm_windows",
    "pad_batch",
    "parameter_groups",
    "predict",
    "tfidf_baseline",
    "visibility",
]
