"""`python -m leakage vlm-probe`: ask a vision-language model who is in the pictures, with anonymization."""

from __future__ import annotations

import argparse
from pathlib import Path

from leakage.commands._output import add_output_arguments, emit_result
from leakage.progress import StageBars


def register(subparsers) -> None:
    probe = subparsers.add_parser("vlm-probe", help="identity leakage of a vision-language model, with face anonymization")
    probe.add_argument("--model", required=True, help="lab-vlm | a folder written by save_pretrained | a hub id (cached)")
    probe.add_argument("--data", required=True, help="lab (the lab VLM's attack images) | a folder with one subfolder per person")
    probe.add_argument("--questions", nargs="+", default=None, help="questions to ask (default: four phrasings)")
    probe.add_argument("--questions-file", type=Path, default=None, help="one question per line")
    probe.add_argument("--anonymize", default="", help="comma-separated settings, e.g. blur:8,pixelate:12,mask,blur:16@image")
    probe.add_argument("--images-per-person", type=int, default=4)
    probe.add_argument("--candidates", type=int, default=100, help="names in each closed set (0 = no closed set)")
    probe.add_argument("--closed-set-questions", type=int, default=1, help="how many of the questions the closed set uses")
    probe.add_argument("--closed-set-all", action="store_true", help="closed-set scores under every setting, not only the original")
    probe.add_argument("--answer-template", default="{}", help="the answer scored in the closed set, {} = the name")
    probe.add_argument("--max-new-tokens", type=int, default=16)
    probe.add_argument("--face-detector", choices=("auto", "haar", "skin"), default="auto", help="for images without a face box")
    probe.add_argument("--seed", type=int, default=0)
    probe.add_argument("--device", default=None, help="auto (default), cuda, mps or cpu")
    probe.add_argument("--batch-size", type=int, default=16)
    add_output_arguments(probe)
    probe.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from leakage.anonymize import parse_settings
    from leakage.vlm import DEFAULT_QUESTIONS, ProbeRuntime, VLMProbeConfig, resolve_vlm, resolve_vlm_data, run_vlm_probe

    questions = tuple(args.questions) if args.questions else DEFAULT_QUESTIONS
    if args.questions_file:
        questions = tuple(line.strip() for line in args.questions_file.read_text().splitlines() if line.strip())
    settings = parse_settings(args.anonymize)
    config = VLMProbeConfig(
        questions=questions,
        anonymizations=tuple(setting.label for setting in settings),
        images_per_person=args.images_per_person,
        max_new_tokens=args.max_new_tokens,
        closed_set=args.candidates > 0,
        n_candidates=max(2, args.candidates),
        closed_set_questions=args.closed_set_questions,
        closed_set_all_settings=args.closed_set_all,
        answer_template=args.answer_template,
        face_detector=args.face_detector,
        seed=args.seed,
    )
    bars = StageBars(enabled=not args.quiet)
    vlm = resolve_vlm(args.model, args.device, progress=bars)
    dataset, dataset_id = resolve_vlm_data(args.data, progress=bars)
    result = run_vlm_probe(vlm, dataset, config, runtime=ProbeRuntime(batch_size=args.batch_size), dataset_id=dataset_id, progress=bars)
    bars.close()
    print(format_summary(result))
    emit_result(result, args)
    return 0


def _rate(value) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def format_summary(result) -> str:
    metrics = result.metrics
    lines = [
        f"VLM probe of {result.model.get('model')} ({result.model.get('device_description')}), data {result.dataset.get('id')}",
        f"config hash {result.config_hash} · code {result.code_version}",
        f"{metrics['n_identities']} people, {metrics['n_images']} images, {metrics['n_questions']} questions, {metrics['n_answers']} answers",
        "",
        f"{'setting':<22} {'members':>8} {'non-mem.':>8} {'all':>8}  (leak rate: share of answers naming the person)",
    ]
    for label, entry in metrics["leak_rates"].items():
        missing = f"  no face found in {entry['faces_missing']} images (left out)" if entry.get("faces_missing") else ""
        lines.append(f"{label:<22} {_rate(entry.get('members')):>8} {_rate(entry.get('nonmembers')):>8} {_rate(entry.get('all')):>8}{missing}")
    if "auc" in metrics:
        low, high = metrics["auc_ci"]
        lines += ["", f"closed set (name likelihood among {result.config['n_candidates']} names): AUC {metrics['auc']:.3f} (95% CI {low:.3f}-{high:.3f})"]
        for key, label in (("0.01", "1%"), ("0.001", "0.1%"), ("0", "0%")):
            lines.append(f"TPR at {label:>4} FPR: {metrics['tpr_at_fpr'][key]:.3f}")
    for label, entry in metrics.get("closed_set_by_setting", {}).items():
        lines.append(f"  under {label}: AUC {entry['auc']:.3f}")
    if result.problems:
        lines.append(f"{len(result.problems)} files skipped:")
        lines += [f"  {problem['path']}: {problem['reason']}" for problem in result.problems[:20]]
    lines.append(f"time: {result.timing.get('total_seconds', 0):.1f} s ({result.timing.get('answers_per_second', 0):.1f} answers/s)")
    return "\n".join(lines)
