"""The MIM paper's ablations, reproduced in the lab: how the attack depends on pre-training
epochs and on the mask ratio (and number of masks) used when attacking.

* epochs: one lab MAE per epoch count (same members, same recipe otherwise), each attacked with
  the default settings, with and without the reference model;
* mask ratio and masks: the default lab MAE (pre-trained at mask ratio 0.75) attacked at other
  ratios and with 1..16 masks per image.

Lab MAEs are built once and reused from the data home (`python -m leakage lab info lab-mae`).

    python -m bench.mim_ablation                      # prints the tables, writes bench/results/mim_ablation.json
    python -m bench.mim_ablation --epochs 50 100 --ratios 0.5 0.75 --masks 8
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Sequence

import leakage  # noqa: F401  # first: lets idle OpenMP threads sleep (see leakage/__init__.py) before torch loads
from bench import format_table, write_results
from bench.machine import machine_info
from leakage.data import scan_dataset
from leakage.lab.mae import default_lab_mae_config, ensure_lab_mae, ensure_reference
from leakage.mim import MIMConfig, load_mae, run_mim
from leakage.progress import StageBars

EPOCHS = (25, 50, 100, 200, 400)
RATIOS = (0.25, 0.5, 0.625, 0.75, 0.875)
MASKS = (1, 4, 8, 16)


def attack_row(target, data, config: MIMConfig, reference=None) -> dict[str, Any]:
    result = run_mim(target, data, config, reference=reference)
    metrics = result.metrics
    return {
        "auc": round(metrics["auc"], 3),
        "auc_ci": [round(value, 3) for value in metrics["auc_ci"]],
        "tpr@1%": round(metrics["tpr_at_fpr"]["0.01"], 3),
        "tpr@0.1%": round(metrics["tpr_at_fpr"]["0.001"], 3),
        "error_members": round(metrics["mean_error_members"], 4),
        "error_nonmembers": round(metrics["mean_error_nonmembers"], 4),
        "attack_seconds": round(result.timing["total_seconds"], 1),
    }


def epoch_sweep(epochs: Sequence[int], bars: StageBars) -> list[dict[str, Any]]:
    rows = []
    for count in epochs:
        lab = ensure_lab_mae(default_lab_mae_config().with_epochs(count), progress=bars)
        target, reference = load_mae(lab.model_dir), load_mae(ensure_reference(lab, progress=bars))
        data = scan_dataset(lab.attack_dir)
        plain = attack_row(target, data, MIMConfig())
        calibrated = attack_row(target, data, MIMConfig(), reference=reference)
        report = lab.training_report()
        rows.append({
            "epochs": count,
            **plain,
            "auc_reference": calibrated["auc"],
            "tpr@1%_reference": calibrated["tpr@1%"],
            "final_train_loss": report["epoch_losses"][-1],
            "train_seconds": report["seconds"],
            "train_cpu_seconds": report.get("cpu_seconds"),
        })
    return rows


def mask_sweep(ratios: Sequence[float], masks: Sequence[int], bars: StageBars) -> tuple[list[dict], list[dict]]:
    lab = ensure_lab_mae(progress=bars)
    target, reference = load_mae(lab.model_dir), load_mae(ensure_reference(lab, progress=bars))
    data = scan_dataset(lab.attack_dir)
    ratio_rows = []
    for ratio in ratios:
        plain = attack_row(target, data, MIMConfig(mask_ratio=ratio))
        calibrated = attack_row(target, data, MIMConfig(mask_ratio=ratio), reference=reference)
        ratio_rows.append({"mask_ratio": ratio, **plain, "auc_reference": calibrated["auc"], "tpr@1%_reference": calibrated["tpr@1%"]})
    mask_rows = [{"masks": count, **attack_row(target, data, MIMConfig(n_masks=count))} for count in masks]
    return ratio_rows, mask_rows


EPOCH_COLUMNS = ("epochs", "auc", "tpr@1%", "tpr@0.1%", "auc_reference", "tpr@1%_reference", "error_members", "error_nonmembers", "train_seconds")
RATIO_COLUMNS = ("mask_ratio", "auc", "tpr@1%", "tpr@0.1%", "auc_reference", "tpr@1%_reference", "error_members", "error_nonmembers")
MASK_COLUMNS = ("masks", "auc", "tpr@1%", "tpr@0.1%", "attack_seconds")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, nargs="*", default=list(EPOCHS))
    parser.add_argument("--ratios", type=float, nargs="*", default=list(RATIOS))
    parser.add_argument("--masks", type=int, nargs="*", default=list(MASKS))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    bars = StageBars()
    epochs = epoch_sweep(args.epochs, bars) if args.epochs else []
    ratios, masks = mask_sweep(args.ratios, args.masks, bars) if args.ratios or args.masks else ([], [])
    bars.close()
    config = default_lab_mae_config()
    lab_line = (f"lab MAE: {config.n_members} member images, {config.n_nonmembers} non-member images, "
                f"{config.architecture.image_size}px, patch {config.architecture.patch_size}, pre-trained at mask ratio "
                f"{config.architecture.mask_ratio}; attack: {MIMConfig().n_masks} masks at ratio {MIMConfig().mask_ratio} unless varied")
    print(lab_line)
    if epochs:
        print("\nAttack strength over pre-training epochs\n" + format_table(epochs, EPOCH_COLUMNS))
    if ratios:
        print(f"\nMask ratio of the attack (default lab MAE, {config.training.epochs} epochs)\n" + format_table(ratios, RATIO_COLUMNS))
    if masks:
        print("\nMasks averaged per image (mask ratio 0.75)\n" + format_table(masks, MASK_COLUMNS))
    path = write_results("mim_ablation", {
        "lab": lab_line,
        "epochs": epochs,
        "mask_ratio": ratios,
        "masks": masks,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine_info(),
    })
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
