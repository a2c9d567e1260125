"""Tiny random models of the VLM families an auditor brings, built offline from configs.

Each builder writes a model and its processor with `save_pretrained` into a folder, as a real
checkpoint would be, with a word-level tokenizer (no hub) carrying the family's own special
tokens and chat format. The families tested are exactly `leakage.vlm_families.FAMILIES`
(tests/test_vlm_families.py checks that every entry has a builder here, and the README's
compatibility table is generated from the same list).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from leakage.lab.vlm import CHAT_TEMPLATE, word_level_tokenizer

WORDS = (
    "USER ASSISTANT User Assistant user assistant : . , ? ' who Who is this person the name of in image what What tell Tell me "
    "a an photo taken at gala it This Irina Williams Alexander Reed Camila Wagner Colton O'Brien and Question Answer"
).split()

def bpe_tokenizer(special_tokens, image_token=None, named_tokens=None):
    """A byte-level BPE tokenizer (as Qwen's, Llama 3's, Mistral's Tekken) trained here on the test words.

    Unlike the word-level one, it splits names into pieces and marks word starts (" Irina" is not
    "Irina"), so the tests see whether the scored tokens are those the model would write.
    """
    from tokenizers import (
        AddedToken,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    sentences = [" ".join(WORDS), "Who is this person?", "What is the name of the person in this image?", "Irina Williams", "Colton O'Brien"]
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=list(special_tokens), initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(sentences * 3, trainer)
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in special_tokens])
    pad, unk, bos, eos = special_tokens[:4]
    extra = {**({"image_token": image_token} if image_token else {}), **(named_tokens or {})}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token=pad, unk_token=unk, bos_token=bos, eos_token=eos, extra_special_tokens=extra)
    others = [token for token in special_tokens[4:] if token not in extra.values()]
    if others:
        tokenizer.add_special_tokens({"extra_special_tokens": others}, replace_extra_special_tokens=False)
    return tokenizer


TINY_TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2)
TINY_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)


def _save(folder: Path, model, processor) -> Path:
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _llama(tokenizer, **overrides):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id, **{**TINY_TEXT, **overrides})


def tiny_llava(folder: Path, seed: int = 0) -> Path:
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tokenizer = word_level_tokenizer(WORDS)
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        tokenizer=tokenizer, patch_size=16, vision_feature_select_strategy="default", num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
    )
    torch.manual_seed(seed)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(image_size=32, patch_size=16, **TINY_VISION),
        text_config=_llama(tokenizer),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"), image_seq_length=4, vision_feature_layer=-1,
    )
    return _save(folder, LlavaForConditionalGeneration(config), processor)


def tiny_llava_next(folder: Path) -> Path:
    from transformers import (
        CLIPVisionConfig,
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessor,
        LlavaNextProcessor,
    )

    tokenizer = bpe_tokenizer(("<pad>", "<unk>", "<s>", "</s>", "<image>"), image_token="<image>")  # word pieces, as Mistral's/Vicuna's
    pinpoints = [[32, 32], [32, 64], [64, 32]]
    processor = LlavaNextProcessor(
        image_processor=LlavaNextImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}, image_grid_pinpoints=pinpoints),
        tokenizer=tokenizer, patch_size=16, vision_feature_select_strategy="default", num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
    )
    torch.manual_seed(3)
    config = LlavaNextConfig(
        vision_config=CLIPVisionConfig(image_size=32, patch_size=16, **TINY_VISION),
        text_config=_llama(tokenizer),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"), image_grid_pinpoints=pinpoints, vision_feature_layer=-1,
    )
    return _save(folder, LlavaNextForConditionalGeneration(config), processor)


def tiny_llava_onevision(folder: Path) -> Path:
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
        SiglipVisionConfig,
    )

    tokenizer = word_level_tokenizer(WORDS, special_tokens=("<pad>", "<unk>", "<s>", "</s>", "<image>", "<video>"))
    pinpoints = [[32, 32], [32, 64], [64, 32]]
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size={"height": 32, "width": 32}, image_grid_pinpoints=pinpoints),
        video_processor=LlavaOnevisionVideoProcessor(size={"height": 32, "width": 32}),
        tokenizer=tokenizer, num_image_tokens=4, vision_feature_select_strategy="full", chat_template=CHAT_TEMPLATE,
    )
    torch.manual_seed(12)
    config = LlavaOnevisionConfig(
        vision_config=SiglipVisionConfig(image_size=32, patch_size=16, **TINY_VISION).to_dict(),
        text_config=dict(model_type="qwen2", vocab_size=len(tokenizer), pad_token_id=0, bos_token_id=2, eos_token_id=3, **TINY_TEXT),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"), video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=pinpoints, vision_feature_select_strategy="full", vision_feature_layer=-1,
    )
    return _save(folder, LlavaOnevisionForConditionalGeneration(config), processor)


def tiny_mistral3(folder: Path) -> Path:
    """Mistral Small 3.x vision: a Pixtral vision tower, its processor (image rows ended by [IMG_BREAK])."""
    from transformers import (
        Mistral3Config,
        Mistral3ForConditionalGeneration,
        PixtralImageProcessor,
        PixtralProcessor,
    )

    specials = ("<pad>", "<unk>", "<s>", "</s>", "[IMG]", "[IMG_BREAK]", "[IMG_END]", "[INST]", "[/INST]")
    tokenizer = bpe_tokenizer(specials, image_token="[IMG]")  # byte-level BPE, as Mistral's Tekken
    template = (
        "<s>{% for m in messages %}{% if m['role'] == 'user' %}[INST]{% for c in m['content'] %}{% if c['type'] == 'image' %}[IMG]"
        "{% else %}{{ c['text'] }}{% endif %}{% endfor %}[/INST]{% else %}{{ m['content'][0]['text'] }}</s>{% endif %}{% endfor %}"
    )
    processor = PixtralProcessor(image_processor=PixtralImageProcessor(size={"longest_edge": 32}, patch_size=8), tokenizer=tokenizer,
                                 patch_size=8, spatial_merge_size=2, chat_template=template)
    torch.manual_seed(14)
    config = Mistral3Config(
        vision_config=dict(model_type="pixtral", image_size=32, patch_size=8, head_dim=16, **TINY_VISION),
        text_config=dict(model_type="mistral", vocab_size=len(tokenizer), head_dim=16, pad_token_id=0, bos_token_id=2, eos_token_id=3, **TINY_TEXT),
        image_token_index=tokenizer.convert_tokens_to_ids("[IMG]"), spatial_merge_size=2,
    )
    return _save(folder, Mistral3ForConditionalGeneration(config), processor)


IDEFICS3_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] | capitalize }}:{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>"
    "{% else %} {{ c['text'] }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
)


def tiny_idefics3(folder: Path, chat_template: bool = True) -> Path:
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
        Idefics3VisionConfig,
    )

    specials = ["<pad>", "<unk>", "<s>", "</s>", "<image>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>"]
    specials += [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    tokenizer = word_level_tokenizer(WORDS, special_tokens=specials, image_token=None)
    processor = Idefics3Processor(
        image_processor=Idefics3ImageProcessor(do_image_splitting=False, size={"longest_edge": 32}, max_image_size={"longest_edge": 32}),
        tokenizer=tokenizer, image_seq_len=1, chat_template=IDEFICS3_TEMPLATE if chat_template else None,
    )
    torch.manual_seed(1)
    config = Idefics3Config(
        vision_config=Idefics3VisionConfig(image_size=32, patch_size=16, **TINY_VISION),
        text_config=_llama(tokenizer),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"), scale_factor=2,
    )
    return _save(folder, Idefics3ForConditionalGeneration(config), processor)


def tiny_smolvlm(folder: Path) -> Path:
    """SmolVLM2 (model_type smolvlm; SmolVLM 1 checkpoints are idefics3)."""
    from transformers import (
        SmolVLMConfig,
        SmolVLMForConditionalGeneration,
        SmolVLMImageProcessor,
        SmolVLMProcessor,
        SmolVLMVideoProcessor,
    )

    specials = ["<pad>", "<unk>", "<s>", "</s>", "<image>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>", "<video>"]
    specials += [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    tokenizer = word_level_tokenizer(WORDS, special_tokens=specials, image_token=None)
    processor = SmolVLMProcessor(
        image_processor=SmolVLMImageProcessor(do_image_splitting=False, size={"longest_edge": 32}, max_image_size={"longest_edge": 32}),
        video_processor=SmolVLMVideoProcessor(size={"longest_edge": 32}, max_image_size={"longest_edge": 32}),
        tokenizer=tokenizer, image_seq_len=1, chat_template=IDEFICS3_TEMPLATE,
    )
    torch.manual_seed(15)
    config = SmolVLMConfig(
        vision_config=dict(image_size=32, patch_size=16, **TINY_VISION),
        text_config=_llama(tokenizer).to_dict(),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"), scale_factor=2,
    )
    return _save(folder, SmolVLMForConditionalGeneration(config), processor)


def tiny_paligemma(folder: Path) -> Path:
    from transformers import (
        GemmaConfig,
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
        SiglipImageProcessor,
        SiglipVisionConfig,
    )

    tokenizer = word_level_tokenizer(WORDS, special_tokens=("<pad>", "<unk>", "<bos>", "<eos>", "<image>"))
    image_processor = SiglipImageProcessor(size={"height": 32, "width": 32})
    image_processor.image_seq_length = 4
    processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=tokenizer)
    tokenizer = processor.tokenizer  # PaliGemma's processor adds its location and segmentation tokens
    torch.manual_seed(4)
    config = PaliGemmaConfig(
        vision_config=SiglipVisionConfig(image_size=32, patch_size=16, projection_dim=32, **TINY_VISION),
        text_config=GemmaConfig(vocab_size=len(tokenizer), head_dim=16, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                                eos_token_id=tokenizer.eos_token_id, **{**TINY_TEXT, "num_key_value_heads": 1}),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"), projection_dim=32,
    )
    return _save(folder, PaliGemmaForConditionalGeneration(config), processor)


QWEN_SPECIALS = ("<|endoftext|>", "<unk>", "<|im_start|>", "<|im_end|>", "<|image_pad|>", "<|vision_start|>", "<|vision_end|>", "<|video_pad|>")
QWEN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}{% if c['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% else %}{{ c['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _qwen_parts(bpe: bool = False):
    from transformers import Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    make = bpe_tokenizer if bpe else (lambda *args, **kwargs: word_level_tokenizer(WORDS, *args, **kwargs))
    tokenizer = make(special_tokens=QWEN_SPECIALS, image_token="<|image_pad|>")
    image_processor = Qwen2VLImageProcessor(patch_size=8, merge_size=2, temporal_patch_size=2, min_pixels=32 * 32, max_pixels=32 * 32)
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in
           (("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"), ("vision_start_token_id", "<|vision_start|>"))}
    video_processor = Qwen2VLVideoProcessor(patch_size=8, merge_size=2, temporal_patch_size=2)
    return tokenizer, image_processor, video_processor, ids


def tiny_qwen2_vl(folder: Path) -> Path:
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLProcessor,
    )

    tokenizer, image_processor, video_processor, ids = _qwen_parts(bpe=True)  # byte-level BPE, as Qwen's
    processor = Qwen2VLProcessor(image_processor=image_processor, tokenizer=tokenizer, video_processor=video_processor, chat_template=QWEN_TEMPLATE)
    torch.manual_seed(5)
    config = Qwen2VLConfig(
        vision_config=dict(depth=1, embed_dim=32, hidden_size=32, num_heads=2, mlp_ratio=2, patch_size=8, spatial_merge_size=2, temporal_patch_size=2),
        text_config=dict(vocab_size=len(tokenizer), pad_token_id=0, bos_token_id=2, eos_token_id=3, rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0}, **TINY_TEXT),
        **ids,
    )
    return _save(folder, Qwen2VLForConditionalGeneration(config), processor)


def tiny_qwen2_5_vl(folder: Path) -> Path:
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
    )

    tokenizer, image_processor, video_processor, ids = _qwen_parts()
    processor = Qwen2_5_VLProcessor(image_processor=image_processor, tokenizer=tokenizer, video_processor=video_processor, chat_template=QWEN_TEMPLATE)
    torch.manual_seed(6)
    config = Qwen2_5_VLConfig(
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32, patch_size=8, spatial_merge_size=2,
                           temporal_patch_size=2, window_size=32, fullatt_block_indexes=[1]),
        text_config=dict(vocab_size=len(tokenizer), pad_token_id=0, bos_token_id=2, eos_token_id=3, rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0}, **TINY_TEXT),
        **ids,
    )
    return _save(folder, Qwen2_5_VLForConditionalGeneration(config), processor)


def tiny_qwen3_vl(folder: Path) -> Path:
    from transformers import (
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    tokenizer, image_processor, _, ids = _qwen_parts()
    video_processor = Qwen3VLVideoProcessor(patch_size=8, merge_size=2, temporal_patch_size=2)
    processor = Qwen3VLProcessor(image_processor=image_processor, tokenizer=tokenizer, video_processor=video_processor, chat_template=QWEN_TEMPLATE)
    torch.manual_seed(11)
    config = Qwen3VLConfig(
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32, patch_size=8, spatial_merge_size=2,
                           temporal_patch_size=2, num_position_embeddings=16, deepstack_visual_indexes=[0]),
        text_config=dict(vocab_size=len(tokenizer), head_dim=16, pad_token_id=0, bos_token_id=2, eos_token_id=3,
                         rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "mrope_interleaved": True, "rope_theta": 10000.0}, **TINY_TEXT),
        vision_end_token_id=tokenizer.convert_tokens_to_ids("<|vision_end|>"), **ids,
    )
    return _save(folder, Qwen3VLForConditionalGeneration(config), processor)


def tiny_qwen3_5(folder: Path) -> Path:
    """Qwen3.5: Qwen3-VL's vision and processor, a hybrid text model (linear-attention and full-attention layers)."""
    from transformers import (
        Qwen3_5Config,
        Qwen3_5ForConditionalGeneration,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    # Byte-level BPE: transformers loads a qwen3_5 folder's tokenizer as its own Qwen3_5Tokenizer class (a byte-level BPE).
    tokenizer, image_processor, _, ids = _qwen_parts(bpe=True)
    video_processor = Qwen3VLVideoProcessor(patch_size=8, merge_size=2, temporal_patch_size=2)
    processor = Qwen3VLProcessor(image_processor=image_processor, tokenizer=tokenizer, video_processor=video_processor, chat_template=QWEN_TEMPLATE)
    torch.manual_seed(17)
    config = Qwen3_5Config(
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32, patch_size=8, spatial_merge_size=2,
                           temporal_patch_size=2, num_position_embeddings=16),
        text_config=dict(vocab_size=len(tokenizer), head_dim=16, pad_token_id=0, bos_token_id=2, eos_token_id=3, linear_key_head_dim=16,
                         linear_value_head_dim=16, linear_num_key_heads=2, linear_num_value_heads=2, layer_types=["linear_attention", "full_attention"],
                         rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "mrope_interleaved": True, "rope_theta": 10000.0,
                                          "partial_rotary_factor": 1.0}, **TINY_TEXT),
        vision_end_token_id=tokenizer.convert_tokens_to_ids("<|vision_end|>"), **ids,
    )
    return _save(folder, Qwen3_5ForConditionalGeneration(config), processor)


def tiny_internvl(folder: Path) -> Path:
    from transformers import (
        GotOcr2ImageProcessor,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
        InternVLVideoProcessor,
    )

    specials = QWEN_SPECIALS[:4] + ("<IMG_CONTEXT>", "<img>", "</img>", "<video>")
    tokenizer = word_level_tokenizer(WORDS, special_tokens=specials, image_token=None, named_tokens={
        "context_image_token": "<IMG_CONTEXT>", "start_image_token": "<img>", "end_image_token": "</img>", "video_token": "<video>"})
    template = QWEN_TEMPLATE.replace("<|vision_start|><|image_pad|><|vision_end|>", "<IMG_CONTEXT>\n")
    processor = InternVLProcessor(image_processor=GotOcr2ImageProcessor(size={"height": 32, "width": 32}, crop_to_patches=False),
                                  video_processor=InternVLVideoProcessor(size={"height": 32, "width": 32}),
                                  tokenizer=tokenizer, image_seq_length=1, chat_template=template)
    torch.manual_seed(13)
    config = InternVLConfig(
        vision_config=dict(image_size=32, patch_size=16, **TINY_VISION),
        text_config=dict(model_type="qwen2", vocab_size=len(tokenizer), pad_token_id=0, bos_token_id=2, eos_token_id=3, **TINY_TEXT),
        image_token_id=tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>"), image_seq_length=1, downsample_ratio=0.5,
    )
    return _save(folder, InternVLForConditionalGeneration(config), processor)


def _blip_vision_qformer(qformer_vocab: int | None = None):
    from transformers import Blip2QFormerConfig, Blip2VisionConfig

    vision = Blip2VisionConfig(image_size=32, patch_size=16, **TINY_VISION)
    extra = {"vocab_size": qformer_vocab} if qformer_vocab else {}
    qformer = Blip2QFormerConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, encoder_hidden_size=32, **extra)
    return vision, qformer


def tiny_blip_2(folder: Path) -> Path:
    """As published (Salesforce/blip2-opt-*): an OPT language model, a processor that puts the query tokens in itself."""
    from transformers import (
        Blip2Config,
        Blip2ForConditionalGeneration,
        Blip2Processor,
        BlipImageProcessor,
        OPTConfig,
    )

    # As published, the tokenizer knows no image token: the processor adds "<image>" itself.
    tokenizer = word_level_tokenizer(WORDS, special_tokens=("<pad>", "<unk>", "</s>", "</s>", "<image>"), image_token=None)
    processor = Blip2Processor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer, num_query_tokens=4)
    vision, qformer = _blip_vision_qformer()
    torch.manual_seed(7)
    config = Blip2Config(
        vision_config=vision.to_dict(), qformer_config=qformer.to_dict(),
        text_config=OPTConfig(vocab_size=len(tokenizer), hidden_size=32, ffn_dim=64, num_hidden_layers=2, num_attention_heads=2, word_embed_proj_dim=32,
                              pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id).to_dict(),
        num_query_tokens=4, image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    return _save(folder, Blip2ForConditionalGeneration(config), processor)


def tiny_instructblip(folder: Path) -> Path:
    from transformers import (
        BlipImageProcessor,
        InstructBlipConfig,
        InstructBlipForConditionalGeneration,
        InstructBlipProcessor,
    )

    tokenizer = word_level_tokenizer(WORDS, image_token=None)
    qformer_tokenizer = word_level_tokenizer(WORDS, special_tokens=("[PAD]", "[UNK]", "[CLS]", "[SEP]"), image_token=None)
    processor = InstructBlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer,
                                      qformer_tokenizer=qformer_tokenizer, num_query_tokens=4)
    vision, qformer = _blip_vision_qformer(len(qformer_tokenizer))
    torch.manual_seed(8)
    config = InstructBlipConfig(
        vision_config=vision.to_dict(), qformer_config=qformer.to_dict(), text_config=_llama(tokenizer).to_dict(),
        num_query_tokens=4, image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    return _save(folder, InstructBlipForConditionalGeneration(config), processor)


MLLAMA_TEMPLATE = (
    "<|begin_of_text|>{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<|image|>{% else %}{{ c['text'] }}{% endif %}{% endfor %}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def tiny_mllama(folder: Path) -> Path:
    from transformers import (
        MllamaConfig,
        MllamaForConditionalGeneration,
        MllamaImageProcessor,
        MllamaProcessor,
    )

    specials = ("<|finetune_right_pad_id|>", "<unk>", "<|begin_of_text|>", "<|eot_id|>", "<|image|>", "<|start_header_id|>", "<|end_header_id|>")
    tokenizer = word_level_tokenizer(WORDS, special_tokens=specials, image_token="<|image|>")
    processor = MllamaProcessor(image_processor=MllamaImageProcessor(size={"height": 32, "width": 32}, max_image_tiles=1),
                                tokenizer=tokenizer, chat_template=MLLAMA_TEMPLATE)
    torch.manual_seed(9)
    config = MllamaConfig(
        vision_config=dict(image_size=32, patch_size=16, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_global_layers=1,
                           attention_heads=2, intermediate_layers_indices=[0], vision_output_dim=64, max_num_tiles=1, supported_aspect_ratios=[[1, 1]]),
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, cross_attention_layers=[1], pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id),
        image_token_index=tokenizer.convert_tokens_to_ids("<|image|>"),
    )
    return _save(folder, MllamaForConditionalGeneration(config), processor)


def tiny_llama4(folder: Path) -> Path:
    """Llama 4 (Scout/Maverick): a mixture-of-experts text model; here 2 experts and 2 layers."""
    from transformers import (
        Llama4Config,
        Llama4ForConditionalGeneration,
        Llama4ImageProcessor,
        Llama4Processor,
    )

    specials = ("<|finetune_right_pad|>", "<unk>", "<|begin_of_text|>", "<|eot|>", "<|image|>", "<|image_start|>", "<|image_end|>", "<|patch|>",
                "<|tile_x_separator|>", "<|tile_y_separator|>", "<|header_start|>", "<|header_end|>")
    tokenizer = word_level_tokenizer(WORDS, special_tokens=specials, image_token="<|image|>")
    template = MLLAMA_TEMPLATE.replace("<|start_header_id|>", "<|header_start|>").replace("<|end_header_id|>", "<|header_end|>").replace("<|eot_id|>", "<|eot|>")
    processor = Llama4Processor(image_processor=Llama4ImageProcessor(size={"height": 32, "width": 32}, max_patches=1, resize_to_max_canvas=False),
                                tokenizer=tokenizer, patch_size=16, pixel_shuffle_ratio=0.5, chat_template=template)
    torch.manual_seed(16)
    config = Llama4Config(
        vision_config=dict(hidden_size=32, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=16,
                           vision_output_dim=32, projector_input_dim=32, projector_output_dim=32, pixel_shuffle_ratio=0.5),
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, intermediate_size_mlp=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, head_dim=16, num_local_experts=2, num_experts_per_tok=1,
                         interleave_moe_layer_step=2, pad_token_id=0, bos_token_id=2, eos_token_id=3, attention_chunk_size=64),
        image_token_index=tokenizer.convert_tokens_to_ids("<|image|>"), boi_token_index=tokenizer.convert_tokens_to_ids("<|image_start|>"),
        eoi_token_index=tokenizer.convert_tokens_to_ids("<|image_end|>"),
    )
    return _save(folder, Llama4ForConditionalGeneration(config), processor)


GEMMA3_TEMPLATE = (
    "<bos>{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<start_of_image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def tiny_gemma3(folder: Path) -> Path:
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessor,
        Gemma3Processor,
        SiglipVisionConfig,
    )

    specials = ("<pad>", "<unk>", "<bos>", "<eos>", "<image_soft_token>", "<start_of_image>", "<end_of_image>", "<start_of_turn>", "<end_of_turn>")
    tokenizer = word_level_tokenizer(WORDS + ["model"], special_tokens=specials, image_token="<image_soft_token>",
                                     named_tokens={"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>"})
    processor = Gemma3Processor(image_processor=Gemma3ImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer,
                                chat_template=GEMMA3_TEMPLATE, image_seq_length=1)
    torch.manual_seed(10)
    config = Gemma3Config(
        vision_config=SiglipVisionConfig(image_size=32, patch_size=16, **TINY_VISION).to_dict(),
        text_config=dict(vocab_size=len(tokenizer), head_dim=16, sliding_window=16, pad_token_id=0, bos_token_id=2, eos_token_id=3, **TINY_TEXT),
        mm_tokens_per_image=1, image_token_index=tokenizer.convert_tokens_to_ids("<image_soft_token>"),
        boi_token_index=tokenizer.convert_tokens_to_ids("<start_of_image>"), eoi_token_index=tokenizer.convert_tokens_to_ids("<end_of_image>"),
    )
    return _save(folder, Gemma3ForConditionalGeneration(config), processor)


def tiny_gemma4(folder: Path) -> Path:
    from transformers import (
        Gemma4AudioFeatureExtractor,
        Gemma4Config,
        Gemma4ForConditionalGeneration,
        Gemma4ImageProcessor,
        Gemma4Processor,
        Gemma4VideoProcessor,
    )

    specials = ("<pad>", "<unk>", "<bos>", "<eos>", "<|image|>", "<|image>", "<image|>", "<|turn>", "<turn|>", "<|video|>", "<|audio|>", "<|audio>", "<audio|>")
    # Its processor wants the audio tokens named too, even for images alone.
    tokenizer = word_level_tokenizer(WORDS + ["model"], special_tokens=specials, image_token="<|image|>", named_tokens={
        "boi_token": "<|image>", "eoi_token": "<image|>", "audio_token": "<|audio|>", "boa_token": "<|audio>", "eoa_token": "<audio|>"})
    template = GEMMA3_TEMPLATE.replace("<start_of_turn>", "<|turn>").replace("<end_of_turn>", "<turn|>").replace("<start_of_image>", "<|image|>")
    processor = Gemma4Processor(feature_extractor=Gemma4AudioFeatureExtractor(), image_processor=Gemma4ImageProcessor(max_soft_tokens=70),
                                video_processor=Gemma4VideoProcessor(), tokenizer=tokenizer, chat_template=template, image_seq_length=70)
    torch.manual_seed(18)
    config = Gemma4Config(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, head_dim=16),
        text_config=dict(vocab_size=len(tokenizer), head_dim=16, sliding_window=16, pad_token_id=0, bos_token_id=2, eos_token_id=3,
                         vocab_size_per_layer_input=len(tokenizer), hidden_size_per_layer_input=8, **TINY_TEXT),
        audio_config=None,
        image_token_id=tokenizer.convert_tokens_to_ids("<|image|>"), boi_token_id=tokenizer.convert_tokens_to_ids("<|image>"),
        eoi_token_id=tokenizer.convert_tokens_to_ids("<image|>"), video_token_id=tokenizer.convert_tokens_to_ids("<|video|>"),
    )
    return _save(folder, Gemma4ForConditionalGeneration(config), processor)


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "llava": tiny_llava,
    "llava_next": tiny_llava_next,
    "llava_onevision": tiny_llava_onevision,
    "idefics3": tiny_idefics3,
    "smolvlm": tiny_smolvlm,
    "mistral3": tiny_mistral3,
    "paligemma": tiny_paligemma,
    "qwen2_vl": tiny_qwen2_vl,
    "qwen2_5_vl": tiny_qwen2_5_vl,
    "qwen3_vl": tiny_qwen3_vl,
    "qwen3_5": tiny_qwen3_5,
    "internvl": tiny_internvl,
    "blip-2": tiny_blip_2,
    "instructblip": tiny_instructblip,
    "mllama": tiny_mllama,
    "gemma3": tiny_gemma3,
    "llama4": tiny_llama4,
    "gemma4": tiny_gemma4,
}
"""Builders by transformers model_type."""
