"""The MIM paper's shadow-model threshold in the lab, beside the plain attack and the per-example
calibration: what each decides on the default lab MAE, and what the shadow MAE costs to build.

The shadow MAE (`lab-mae-shadow`) is the target's recipe on people the target never saw, with as
many fresh non-member people; the error threshold that best separates its own members from its
non-members is applied to the target (leakage.mim.shadow_threshold).

    python -m bench.mim_shadow          # prints the figures, writes bench/results/mim_shadow.json

The build time is the one recorded when the shadow MAE was built (shadow.json); the bench builds
it first when it is missing, so run it on an idle machine for a build figure.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Sequence

import leakage  # noqa: F401  # first: lets idle OpenMP threads sleep (see leakage/__init__.py) before torch loads
from bench import format_table, write_results
from bench.machine import machine_info
from leakage.data import scan_dataset
from leakage.lab.mae import SHADOW_MARKER, ensure_lab_mae, ensure_reference, ensure_shadow
from leakage.mim import MIMConfig, load_mae, run_mim
from leakage.progress import StageBars

COLUMNS = ("method", "auc", "threshold", "accuracy", "tpr", "fpr", "attack_seconds")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--masks", type=int, default=MIMConfig().n_masks)
    args = parser.parse_args(argv)
    config = MIMConfig(n_masks=args.masks)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # its per-file bars would interleave with ours
    bars = StageBars()
    lab = ensure_lab_mae(progress=bars)
    ensure_shadow(lab, progress=bars)
    target = load_mae(lab.model_dir)
    reference = load_mae(ensure_reference(lab, progress=bars))
    shadow = load_mae(lab.shadow_model_dir)
    data, shadow_data = scan_dataset(lab.attack_dir), scan_dataset(lab.shadow_data_dir)
    runs = {
        "plain (AUC only)": run_mim(target, data, config),
        "per-example calibration (reference MAE)": run_mim(target, data, config, reference=reference),
        "shadow-model threshold (the paper's)": run_mim(target, data, config, shadow=shadow, shadow_data=shadow_data),
    }
    bars.close()
    rows = []
    for method, result in runs.items():
        metrics = result.metrics
        rows.append({
            "method": method,
            "auc": round(metrics["auc"], 3),
            "threshold": round(metrics["threshold_error"], 4) if "threshold_error" in metrics else "-",
            "accuracy": round(metrics["threshold_accuracy"], 3) if "threshold_accuracy" in metrics else "-",
            "tpr": round(metrics["threshold_tpr"], 3) if "threshold_tpr" in metrics else "-",
            "fpr": round(metrics["threshold_fpr"], 3) if "threshold_fpr" in metrics else "-",
            "attack_seconds": round(result.timing["total_seconds"], 1),
        })
    shadow_result = runs["shadow-model threshold (the paper's)"]
    on_shadow = shadow_result.details["shadow"]
    build = json.loads((lab.shadow_root / SHADOW_MARKER).read_text())
    lab_build = {"build_seconds": round(lab.build_seconds, 1), **lab.timings}
    print(f"target: lab MAE, {len(lab.members)} member and {len(lab.nonmembers)} non-member images; "
          f"{config.n_masks} masks at ratio {config.mask_ratio}")
    print(format_table(rows, COLUMNS))
    print(f"\nthe threshold on the shadow's own {on_shadow['n_members']} members / {on_shadow['n_nonmembers']} non-members: "
          f"balanced accuracy {on_shadow['balanced_accuracy']:.3f}, TPR {on_shadow['tpr']:.3f}, FPR {on_shadow['fpr']:.3f}, "
          f"AUC {on_shadow['auc']:.3f}")
    print(f"shadow MAE build: {build['build_seconds']} s wall ({build['build_cpu_seconds']} s CPU; render {build['render_seconds']} s, "
          f"train {build['train_seconds']} s); the lab MAE itself: {lab_build}")
    path = write_results("mim_shadow", {
        "rows": rows,
        "on_shadow": on_shadow,
        "shadow_build": build,
        "lab_build": lab_build,
        "n_masks": config.n_masks,
        "machine": machine_info(),
        "measured": time.strftime("%Y-%m-%d"),
    })
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
