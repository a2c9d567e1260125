"""Text side of the IDIA: the 21 templates x 1,000 candidate names as prompt embeddings, cold and warm.

cold, no cache:    prompt_embeddings(use_cache=False), every prompt encoded (trimmed encode_text);
cold, empty cache: the same through an empty disk cache, so it includes writing the cache;
warm:              every prompt read back from the disk cache (the figure a rerun pays);
trimmed vs full:   encode_text_trimmed against the model's own encode_text (padded to the full
                   context) on the same prompts, with the largest difference between their outputs.

Cold encoding of a ViT-B-32 text tower over 21,000 prompts takes minutes on a 2-core CPU, so by
default its cold figures come from a subset of names and are extrapolated linearly to 1,000
(labelled "extrapolated" in the table and JSON). Its warm figure is always the full 1,000 names:
the bench fills a cache of its own once (under <data home>/bench-home, keyed by the weights'
fingerprint, which is stable because the untrained model is seeded) and reuses it on later runs.

    python -m bench.text_embeddings
    python -m bench.text_embeddings --models lab --names 1000 --cold-names 1000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from bench import (
    answer_measurement,
    attack_names,
    current_rss_mb,
    format_table,
    load_bench_model,
    machine_details,
    measure,
    summarize,
    temporary_env,
    time_repeats,
    write_results,
)

MODULE = "bench.text_embeddings"
DEFAULT_MODELS = ("lab", "untrained:ViT-B-32")
COLD_NAMES = {"lab": 1000, "untrained:ViT-B-32": 100}
"""Names encoded for the cold figures, per model; fewer than --names means extrapolated."""
TRIM_NAMES = {"lab": 200, "untrained:ViT-B-32": 20}
"""Names for trimmed vs full context: full context costs ~7x more on ViT-B-32."""
TARGET_WARM_SECONDS = 1.0


def _templates() -> tuple[str, ...]:
    from leakage.idia import DEFAULT_TEMPLATES

    return DEFAULT_TEMPLATES


def _warm_up(clip) -> None:
    """First-call allocations and kernel choices, kept out of every timed figure."""
    from leakage.text_embeddings import encode_prompts

    encode_prompts(clip, ["a photo of a person named Warm Up"] * 8)


def measure_cold(model: str, data: str, n_names: int, full_names: int, cache_home: str | None, device: str | None = None) -> dict[str, Any]:
    """One cold prompt_embeddings over n_names names: without the cache (cache_home None) or into an empty cache."""
    from leakage.text_embeddings import prompt_embeddings

    clip = load_bench_model(model, device)
    names = attack_names(data, n_names)
    _warm_up(clip)
    rss_loaded = current_rss_mb()
    started = time.perf_counter()
    if cache_home is None:
        _, stats = prompt_embeddings(clip, _templates(), names, use_cache=False)
    else:
        with temporary_env(LEAKAGE_HOME=cache_home):
            _, stats = prompt_embeddings(clip, _templates(), names, use_cache=True)
    seconds = time.perf_counter() - started
    if stats["encoded"] != stats["prompts"]:
        raise RuntimeError(f"cold run found {stats['from_cache']} prompts already cached in {cache_home}")
    return {
        "model": model,
        "cache": "off" if cache_home is None else "empty",
        "names": len(names),
        "prompts": stats["prompts"],
        "seconds": round(seconds, 4),
        "prompts_per_second": round(stats["prompts"] / seconds, 2),
        "extrapolated_seconds_full": round(seconds * full_names / len(names), 2),
        "extrapolated": len(names) < full_names,
        "rss_after_load_mb": rss_loaded,
    }


def measure_warm(model: str, data: str, n_names: int, cache_home: str, repeats: int, device: str | None = None) -> dict[str, Any]:
    """prompt_embeddings from a filled disk cache (filled first when it lacks prompts; that fill is reported, not timed as warm)."""
    from leakage.text_embeddings import prompt_embeddings

    clip = load_bench_model(model, device)
    names = attack_names(data, n_names)
    rss_loaded = current_rss_mb()
    with temporary_env(LEAKAGE_HOME=cache_home):
        started = time.perf_counter()
        _, fill = prompt_embeddings(clip, _templates(), names)
        fill_seconds = time.perf_counter() - started
        counts: list[dict] = []
        seconds = time_repeats(lambda: counts.append(prompt_embeddings(clip, _templates(), names)[1]), repeats)
    if any(stats["encoded"] for stats in counts):
        raise RuntimeError("the warm runs encoded prompts: the cache did not hold them")
    return {
        "model": model,
        "cache": "warm",
        "names": len(names),
        "prompts": counts[0]["prompts"],
        "filled_now": fill["encoded"] > 0,
        "fill_encoded": fill["encoded"],
        "fill_seconds": round(fill_seconds, 3) if fill["encoded"] else None,
        "rss_after_load_mb": rss_loaded,
        **summarize(seconds, counts[0]["prompts"]),
    }


def measure_trimmed_vs_full(model: str, data: str, n_names: int, repeats: int, device: str | None = None) -> dict[str, Any]:
    """Prompts per second of encode_text_trimmed and of encode_text on the same prompts, and their largest difference."""
    import torch

    from leakage.text_embeddings import ENCODE_BATCH, encode_text_trimmed

    clip = load_bench_model(model, device)
    prompts = [template.format(name) for template in _templates() for name in attack_names(data, n_names)]
    batches = [clip.tokenizer(prompts[i : i + ENCODE_BATCH]).to(clip.device.device) for i in range(0, len(prompts), ENCODE_BATCH)]
    _warm_up(clip)

    @torch.inference_mode()
    def encode(function) -> torch.Tensor:
        return torch.cat([torch.nn.functional.normalize(function(tokens).float(), dim=-1).cpu() for tokens in batches])

    trimmed = encode(lambda tokens: encode_text_trimmed(clip.model, tokens))
    full = encode(clip.model.encode_text)
    trimmed_seconds = time_repeats(lambda: encode(lambda tokens: encode_text_trimmed(clip.model, tokens)), repeats)
    full_seconds = time_repeats(lambda: encode(clip.model.encode_text), repeats)
    used = int((torch.cat([b.cpu() for b in batches]) != 0).any(dim=0).nonzero().max()) + 1
    trimmed_figures, full_figures = summarize(trimmed_seconds, len(prompts)), summarize(full_seconds, len(prompts))
    return {
        "model": model,
        "prompts": len(prompts),
        "context_length": int(batches[0].shape[1]),
        "positions_used": used,
        "trimmed": trimmed_figures,
        "full": full_figures,
        "speedup_median": round(full_figures["median_seconds"] / trimmed_figures["median_seconds"], 2),
        "max_abs_difference": float((trimmed - full).abs().max()),
    }


MEASUREMENTS = {"cold": measure_cold, "warm": measure_warm, "trim": measure_trimmed_vs_full}


def bench_cache_home() -> Path:
    """A data home of the bench's own for its persistent warm caches, apart from the user's run caches."""
    from leakage.provenance import data_home

    return data_home() / "bench-home"


def run(
    models: Sequence[str] = DEFAULT_MODELS,
    data: str = "lab",
    n_names: int = 1000,
    cold_names: int | None = None,
    trim_names: int | None = None,
    repeats: int = 3,
    device: str | None = None,
    isolate: bool = True,
    cache_home: Path | None = None,
    results_dir: Path | None = None,
) -> dict[str, Any]:
    """Cold (off, empty), warm and trimmed-vs-full for each model; print the table, write the JSON."""
    attack_names(data, 1)  # build or wait for the lab here, not inside a timed subprocess
    cache_home = cache_home or bench_cache_home()
    per_model: dict[str, Any] = {}
    rows = []
    for model in models:
        n_cold = min(n_names, cold_names or COLD_NAMES.get(model, n_names))
        n_trim = min(n_names, trim_names or TRIM_NAMES.get(model, 100))
        base = {"model": model, "data": data, "device": device}
        cold_off = measure(MODULE, "cold", {**base, "n_names": n_cold, "full_names": n_names, "cache_home": None}, isolate=isolate)
        empty = tempfile.mkdtemp(prefix="bench-text-cache-")
        try:
            cold_empty = measure(MODULE, "cold", {**base, "n_names": n_cold, "full_names": n_names, "cache_home": empty}, isolate=isolate)
        finally:
            shutil.rmtree(empty, ignore_errors=True)
        warm = measure(MODULE, "warm", {**base, "n_names": n_names, "cache_home": str(cache_home), "repeats": repeats}, isolate=isolate)
        trim = measure(MODULE, "trim", {**base, "n_names": n_trim, "repeats": repeats}, isolate=isolate)
        per_model[model] = {"cold_no_cache": cold_off, "cold_empty_cache": cold_empty, "warm": warm, "trimmed_vs_full": trim}
        for label, figures in (("cold, no cache", cold_off), ("cold, empty cache", cold_empty)):
            rows.append(
                {
                    "model": model,
                    "run": label,
                    "names": figures["names"],
                    "seconds": figures["seconds"],
                    f"s for {n_names} names": figures["extrapolated_seconds_full"],
                    "how": "extrapolated" if figures["extrapolated"] else "measured",
                    "peak MiB": figures["peak_rss_mb"],
                }
            )
        rows.append(
            {
                "model": model,
                "run": "warm (disk cache)",
                "names": warm["names"],
                "seconds": warm["median_seconds"],
                f"s for {n_names} names": warm["median_seconds"],
                "how": "measured, median",
                "peak MiB": warm["peak_rss_mb"],
            }
        )
    payload = {
        "bench": "text_embeddings",
        "machine": machine_details(device),
        "settings": {"data": data, "names": n_names, "templates": len(_templates()), "repeats": repeats, "cache_home": str(cache_home)},
        "target": {"warm_seconds_below": TARGET_WARM_SECONDS, "names": 1000, "templates": 21},
        "models": per_model,
    }
    path = write_results("text_embeddings", payload, results_dir)
    print(format_table(rows, ["model", "run", "names", "seconds", f"s for {n_names} names", "how", "peak MiB"]))
    trim_rows = [
        {
            "model": model,
            "prompts": figures["trimmed_vs_full"]["prompts"],
            "positions": f"{figures['trimmed_vs_full']['positions_used']}/{figures['trimmed_vs_full']['context_length']}",
            "trimmed prompts/s": figures["trimmed_vs_full"]["trimmed"]["per_second_median"],
            "full prompts/s": figures["trimmed_vs_full"]["full"]["per_second_median"],
            "speed-up": figures["trimmed_vs_full"]["speedup_median"],
            "max |diff|": figures["trimmed_vs_full"]["max_abs_difference"],
        }
        for model, figures in per_model.items()
    ]
    print()
    print(format_table(trim_rows, ["model", "prompts", "positions", "trimmed prompts/s", "full prompts/s", "speed-up", "max |diff|"]))
    print(f"\nwritten to {path}")
    return payload


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--data", default="lab", help="lab or a dataset folder (its people head the candidate names)")
    parser.add_argument("--names", type=int, default=1000, help="candidate names for the warm figure and the extrapolation")
    parser.add_argument("--cold-names", type=int, default=None, help="names for the cold figures (default: 1000 for lab, 100 for ViT-B-32)")
    parser.add_argument("--trim-names", type=int, default=None, help="names for trimmed vs full context (default: 200 lab, 20 ViT-B-32)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--in-process", action="store_true", help="no subprocess per measurement (memory figures then not isolated)")
    args = parser.parse_args(argv)
    if args.measure:
        answer_measurement(MEASUREMENTS, args.measure)
        return
    run(args.models, args.data, args.names, args.cold_names, args.trim_names, args.repeats, args.device, not args.in_process)


if __name__ == "__main__":
    main(sys.argv[1:])
