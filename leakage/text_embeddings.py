"""Prompt embeddings for zero-shot attacks, encoded once per model and kept on disk.

The cache is keyed by the model's weight fingerprint and holds one row per prompt text, so
a new candidate name costs 21 new prompts, not 21,000.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from leakage.embedding_cache import EmbeddingCache
from leakage.models import LoadedClip
from leakage.provenance import data_home

ENCODE_BATCH = 512


@torch.inference_mode()
def encode_prompts(
    clip: LoadedClip,
    prompts: Sequence[str],
    batch_size: int = ENCODE_BATCH,
    progress: Callable[[str, int, int], None] | None = None,
    cancel: Any = None,
) -> np.ndarray:
    """L2-normalised text embeddings (float32, len(prompts) × dim), with progress and cancel between batches."""
    chunks = []
    for start in range(0, len(prompts), batch_size):
        if cancel is not None and cancel.is_set():
            from leakage.results import RunCancelled

            raise RunCancelled("cancelled while encoding prompts")
        if progress:
            progress("encode prompts", start, len(prompts))
        tokens = clip.tokenizer(list(prompts[start : start + batch_size])).to(clip.device.device)
        features = encode_text_trimmed(clip.model, tokens)
        chunks.append(torch.nn.functional.normalize(features.float(), dim=-1).cpu().numpy())
    if not chunks:
        return np.zeros((0, embedding_dim(clip)), dtype=np.float32)
    return np.concatenate(chunks)


def embedding_dim(clip: LoadedClip) -> int:
    projection = getattr(clip.model, "text_projection", None)
    if isinstance(projection, torch.Tensor):
        return projection.shape[1]
    return clip.model.encode_text(clip.tokenizer(["a"]).to(clip.device.device)).shape[-1]


def encode_text_trimmed(model: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """`model.encode_text`, but over only as many token positions as the longest prompt uses.

    Prompts of a dozen tokens are padded to 77; with a causal mask and end-of-text pooling the
    padding cannot change the result, so dropping it gives the same embeddings at a fraction
    of the cost. Models of another kind fall back to their own encode_text.
    """
    if not _is_trimmable(model):
        return model.encode_text(tokens)
    used = int((tokens != 0).any(dim=0).nonzero().max()) + 1
    tokens = tokens[:, :used]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype) + model.positional_embedding[:used].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:used, :used])
    x = model.ln_final(x)
    from open_clip.transformer import text_global_pool

    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None))
    projection = model.text_projection
    if projection is not None:
        x = projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection
    return x


def _is_trimmable(model: torch.nn.Module) -> bool:
    import open_clip

    return (
        type(model) is open_clip.CLIP
        and getattr(model, "text_pool_type", None) == "argmax"
        and isinstance(getattr(model, "attn_mask", None), torch.Tensor)
    )


class TextEmbeddingCache(EmbeddingCache):
    """Prompt embeddings of one model on disk: prompts.json (row order) + embeddings.npy (float16)."""

    def __init__(self, fingerprint: str, root: Path | None = None):
        super().__init__((root or data_home() / "text_cache") / fingerprint, keys_file="prompts.json")


def prompt_embeddings(
    clip: LoadedClip,
    templates: Sequence[str],
    names: Sequence[str],
    *,
    use_cache: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
    cancel: Any = None,
    private: Sequence[str] = (),
) -> tuple[np.ndarray, dict]:
    """Embeddings of every template filled with every name: array (templates, names, dim) and cache stats.

    Prompts naming one of `private` (a person checked from memory) are encoded here and never
    written to the on-disk cache: nothing of a check the user did not keep reaches the disk."""
    prompts = [template.format(name) for template in templates for name in names]
    hidden = set(private)
    secret = np.array([name in hidden for _ in templates for name in names], dtype=bool)

    def encode(batch: Sequence[str]) -> np.ndarray:
        return encode_prompts(clip, batch, progress=progress, cancel=cancel)

    if use_cache and not secret.all():
        shared = [prompt for prompt, private_row in zip(prompts, secret) if not private_row]
        cached, encoded = TextEmbeddingCache(clip.fingerprint).lookup(shared, encode)
        matrix = np.empty((len(prompts), cached.shape[1]), dtype=cached.dtype)
        matrix[~secret] = cached
        if secret.any():
            matrix[secret] = encode([prompt for prompt, private_row in zip(prompts, secret) if private_row])
            encoded += int(secret.sum())
    else:
        matrix, encoded = encode(prompts), len(prompts)
    stats = {"prompts": len(prompts), "encoded": encoded, "from_cache": len(prompts) - encoded}
    return matrix.reshape(len(templates), len(names), -1), stats
