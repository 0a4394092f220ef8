"""Week 12: an audit of the course's own models.

- bias in vectors: :mod:`~helpers.audit.weat` (WEAT effect size and exact or sampled
  permutation p-value, the paper's word sets), :mod:`~helpers.audit.seat` (the same test on
  sentence vectors from templates), :mod:`~helpers.audit.debias` (a bias direction,
  neutralising it, and the clustering test that shows what remains);
- bias in models: :mod:`~helpers.audit.probes` (filler log-probabilities of masked and causal
  LMs over templates, gaps with bootstrap intervals), :mod:`~helpers.audit.counterfactual`
  (identity-term swaps and a classifier's flip rate);
- privacy: :mod:`~helpers.audit.memorisation` (greedy extraction of training text, loss-based
  membership AUC);
- cost and reporting: :mod:`~helpers.audit.energy` (CPU time x stated power x grid intensity,
  published estimates), :mod:`~helpers.audit.model_card` (Mitchell et al.'s sections).

The course-wide comparison table is the leaderboard, :mod:`helpers.course.leaderboard`.
"""

from helpers.audit.counterfactual import (
    GENDER_SWAPS,
    NAME_SWAPS,
    CounterfactualResult,
    counterfactual_flip_rate,
    swap_table,
    swap_terms,
)
from helpers.audit.debias import bias_direction, cluster_alignment, neutralise, projection
from helpers.audit.energy import (
    PUBLISHED,
    EnergyEstimate,
    PowerAssumptions,
    PublishedEstimate,
    estimate_energy,
    measure_cpu,
)
from helpers.audit.memorisation import (
    MemorisationResult,
    extractable,
    membership_auc,
    memorisation_test,
    sequence_losses,
    windows_of,
)
from helpers.audit.model_card import SECTIONS, ModelCard
from helpers.audit.probes import (
    ProbeResult,
    bootstrap_interval,
    filler_gap,
    masked_filler_logprobs,
    sequence_logprobs,
)
from helpers.audit.seat import TEMPLATES, fill_templates, seat
from helpers.audit.weat import (
    WORD_SETS,
    WEATResult,
    WEATTest,
    association,
    weat,
    weat_effect_size,
    weat_p_value,
    weat_statistic,
    weat_words,
)

__all__ = [
    "GENDER_SWAPS", "NAME_SWAPS", "PUBLISHED", "SECTIONS", "TEMPLATES", "WORD_SETS", "CounterfactualResult",
    "EnergyEstimate", "MemorisationResult", "ModelCard", "PowerAssumptions", "ProbeResult", "PublishedEstimate",
    "WEATResult", "WEATTest", "association", "bias_direction", "bootstrap_interval", "cluster_alignment",
    "counterfactual_flip_rate", "estimate_energy", "extractable", "fill_templates", "filler_gap",
    "masked_filler_logprobs", "measure_cpu", "membership_auc", "memorisation_test", "neutralise", "projection",
    "seat", "sequence_logprobs", "sequence_losses", "swap_table", "swap_terms", "weat", "weat_effect_size",
    "weat_p_value", "weat_statistic", "weat_words", "windows_of",
]  # fmt: skip
