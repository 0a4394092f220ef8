"""Week 10: fine-tuning and prompting. LoRA layers and their injection into any model
(equal to ``peft``'s), adapter files, instruction tuning with the loss on the response only,
the date instructions, and zero-shot, few-shot and self-consistency prompting.

:mod:`~helpers.finetuning.lora` <- :mod:`~helpers.finetuning.adapter`;
:mod:`~helpers.finetuning.instructions` <- :mod:`~helpers.finetuning.prompting` (which decodes
with :mod:`helpers.decoding`).
"""

from helpers.finetuning.adapter import (
    ParameterCount,
    load_adapter,
    lora_state_dict,
    save_adapter,
    trainable_parameters,
)
from helpers.finetuning.instructions import (
    DATE_TASKS,
    DEFAULT_TEMPLATE,
    IGNORE_INDEX,
    SHORT_FORMATS,
    Instruction,
    InstructionBatch,
    Template,
    date_instructions,
    encode_instruction,
    exact_match,
    instruction_batch,
    instruction_vocab,
    response_loss,
)
from helpers.finetuning.lora import (
    LoRAConfig,
    LoRALinear,
    inject_lora,
    lora_layers,
    mark_only_lora_trainable,
    matches_target,
    merge_lora,
    unmerge_lora,
)
from helpers.finetuning.prompting import (
    Vote,
    complete,
    few_shot_prompt,
    first_line,
    self_consistency,
    zero_shot_prompt,
)

__all__ = [
    "DATE_TASKS", "DEFAULT_TEMPLATE", "IGNORE_INDEX", "Instruction", "InstructionBatch", "LoRAConfig", "LoRALinear",
    "ParameterCount", "SHORT_FORMATS", "Template", "Vote", "complete", "date_instructions", "encode_instruction", "exact_match",
    "few_shot_prompt", "first_line", "inject_lora", "instruction_batch", "instruction_vocab", "load_adapter",
    "lora_layers", "lora_state_dict", "mark_only_lora_trainable", "matches_target", "merge_lora", "response_loss",
    "save_adapter", "self_consistency", "trainable_parameters", "unmerge_lora", "zero_shot_prompt",
]  # fmt: skip
