"""What the VLM probe knows about each model family, in one table.

Everything else is generic: each family's processor builds its own inputs (chat template, image
tokens, batch layout), and the probe only needs to know the few things below. A model whose
family is not listed goes through the generic path (chat template when it has one, else the
processor's image token before the question), which may or may not work: the families listed
are the ones the tests build, load, probe and check against a plain reference
(tests/test_vlm_families.py), and the README's compatibility table is generated from this list
(`python -m leakage.vlm_families`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    model_type: str
    """transformers' `config.model_type`."""
    label: str
    example: str
    """A published checkpoint of the family, for the README."""
    processors: tuple[str, ...] = ()
    """Processor class names of the family, to find it from a processor alone."""
    prompt_format: str | None = None
    """The prompt where the processor inserts the image itself and wants no chat template (BLIP-2's
    "Question: ... Answer:"; {image} stands for the processor's image token); None: the chat
    template when the processor has one, else "{image}{question}"."""
    processor_adds: str = ""
    """Text the processor appends to the prompt itself (PaliGemma: a newline)."""
    answer_separator: str | None = None
    """Between prompt and answer; None: read off the chat template (or a space after a plain prompt)."""
    answer_token_type: int = 0
    """`token_type_ids` of answer tokens: PaliGemma reads 0 as the bidirectional prefix, 1 as the
    causally decoded suffix its answers are trained as."""
    cached_scoring: bool = True
    """Closed-set scores continue the prompt's key/value cache with every answer (fast); False
    where the model's cache cannot be continued that way (full sequences, slower)."""
    note: str = ""
    """Shown in the README's table."""


FAMILIES: tuple[Family, ...] = (
    Family("llava", "LLaVA 1.5", "llava-hf/llava-1.5-7b-hf", ("LlavaProcessor",)),
    Family("llava_next", "LLaVA-NeXT", "llava-hf/llava-v1.6-mistral-7b-hf", ("LlavaNextProcessor",)),
    Family("llava_onevision", "LLaVA-OneVision", "llava-hf/llava-onevision-qwen2-0.5b-ov-hf", ("LlavaOnevisionProcessor",)),
    Family("idefics3", "Idefics3 / SmolVLM", "HuggingFaceTB/SmolVLM-256M-Instruct", ("Idefics3Processor",)),
    Family("smolvlm", "SmolVLM2", "HuggingFaceTB/SmolVLM2-256M-Video-Instruct", ("SmolVLMProcessor",),
           note="its processor needs the `num2words` package (in requirements.txt)"),
    Family("mistral3", "Mistral Small 3.1 vision (Mistral3)", "mistralai/Mistral-Small-3.1-24B-Instruct-2503", ("PixtralProcessor",)),
    Family("paligemma", "PaliGemma", "google/paligemma-3b-mix-224", ("PaliGemmaProcessor",), prompt_format="{image}answer en {question}",
           processor_adds="\n", answer_separator="", answer_token_type=1,
           note='prompt "answer en {question}"; answer tokens are its causal suffix (`token_type_ids` 1)'),
    Family("qwen2_vl", "Qwen2-VL", "Qwen/Qwen2-VL-2B-Instruct", ("Qwen2VLProcessor",)),
    Family("qwen2_5_vl", "Qwen2.5-VL", "Qwen/Qwen2.5-VL-3B-Instruct", ("Qwen2_5_VLProcessor",)),
    Family("qwen3_vl", "Qwen3-VL", "Qwen/Qwen3-VL-2B-Instruct", ("Qwen3VLProcessor",)),
    Family("qwen3_5", "Qwen3.5", "Qwen/Qwen3.5-9B", (), cached_scoring=False,
           note="closed-set on full sequences: transformers 5.23 cannot repeat its linear-attention cache per answer"),
    Family("internvl", "InternVL", "OpenGVLab/InternVL3-1B-hf", ("InternVLProcessor",)),
    Family("blip-2", "BLIP-2", "Salesforce/blip2-opt-2.7b", ("Blip2Processor",), prompt_format="Question: {question} Answer:",
           note='prompt "Question: … Answer:"; the processor inserts the query tokens'),
    Family("instructblip", "InstructBLIP", "Salesforce/instructblip-vicuna-7b", ("InstructBlipProcessor",), prompt_format="{question}",
           note="the processor inserts the query tokens; the Q-Former reads the question"),
    Family("mllama", "Llama 3.2 Vision (Mllama)", "meta-llama/Llama-3.2-11B-Vision-Instruct", ("MllamaProcessor",)),
    Family("llama4", "Llama 4", "meta-llama/Llama-4-Scout-17B-16E-Instruct", ("Llama4Processor",)),
    Family("gemma3", "Gemma 3", "google/gemma-3-4b-it", ("Gemma3Processor",)),
    Family("gemma4", "Gemma 4", "google/gemma-4-E4B-it", ("Gemma4Processor",)),
)

_BY_TYPE = {family.model_type: family for family in FAMILIES}
_BY_PROCESSOR = {name: family for family in FAMILIES for name in family.processors}
GENERIC = Family("", "other image-text-to-text models", "", note="not tested: the generic path")


def family_of(model_type: str | None) -> Family:
    """The family's entry, or the generic one for a model type not in the table."""
    return _BY_TYPE.get(model_type or "", GENERIC)


def family_of_processor(processor: object) -> Family:
    """The family a processor belongs to (for callers that hold only the processor)."""
    return _BY_PROCESSOR.get(type(processor).__name__, GENERIC)


COMPATIBILITY_COLUMNS = ("family", "model_type", "checkpoints like", "loads", "open answers", "closed-set", "anonymization", "tested how", "notes")
TESTED_HOW = "tiny model → save_pretrained → `load_vlm`; 4-person probe with face blur; closed-set = reference (≤ 1e-4)"
"""The same for every family: tests/test_vlm_families.py, described under the table in the README."""


def compatibility_table() -> str:
    """The README's compatibility table, in Markdown, from FAMILIES (the tests build every one)."""
    rows = ["| " + " | ".join(COMPATIBILITY_COLUMNS) + " |", "|" + "---|" * len(COMPATIBILITY_COLUMNS)]
    for family in FAMILIES:
        closed = "yes (cached prompt)" if family.cached_scoring else "yes (full sequences, slower)"
        rows.append(f"| {family.label} | `{family.model_type}` | `{family.example}` | yes | yes | {closed} | yes | {TESTED_HOW} | {family.note} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(compatibility_table())
