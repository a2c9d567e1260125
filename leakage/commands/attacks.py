"""One CLI command per registered attack (`python -m leakage idia|vlm-probe|mim|...`), and
`python -m leakage attacks`, which lists them. Everything comes from the attack's declaration.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

from leakage.attacks import get_attack, list_attacks
from leakage.attacks.base import Attack, config_fields, field_choices, field_help, optional_of
from leakage.commands._output import add_output_arguments, emit_result


def register(subparsers) -> None:
    listing = subparsers.add_parser("attacks", help="list the attacks this tool runs")
    listing.set_defaults(func=print_attacks)
    for attack in list_attacks():
        for command in (attack.name, *attack.aliases):
            parser = subparsers.add_parser(command, help=attack.title if command == attack.name else f"same as {attack.name}",
                                           description=attack.explanation)
            add_attack_arguments(parser, attack)
            parser.set_defaults(func=run_attack, attack=attack.name)


def print_attacks(args: argparse.Namespace) -> int:
    from leakage.catalog import MODEL_KINDS

    for attack in list_attacks():
        aliases = f" (also: {', '.join(attack.aliases)})" if attack.aliases else ""
        print(f"{attack.name:<10} {attack.title}{aliases}")
        print(f"{'':<10} {attack.threat} \u00b7 {attack.taxonomy} \u00b7 needs {MODEL_KINDS[attack.model_kind].title}")
        print(f"{'':<10} python -m leakage {attack.name} --model {attack.default_model} --data lab")
    return 0


def add_attack_arguments(parser: argparse.ArgumentParser, attack: Attack) -> None:
    from leakage.catalog import MODEL_KINDS, lab_models

    kind = MODEL_KINDS[attack.model_kind]
    lab_names = " | ".join(model.name for model in lab_models(attack.model_kind))
    parser.add_argument("--model", required=True, help=f"{lab_names} | {kind.accepts}")
    parser.add_argument("--pretrained", default=None, help="pretrained tag or local checkpoint file (open_clip names)")
    parser.add_argument("--data", required=True, help=f"lab (the lab data set that goes with the model; default {attack.default_data}) "
                                                      "| a lab data set name | a folder with one subfolder of images per person")
    for role, help_text in attack.extra_models:
        parser.add_argument(f"--{role}", default=None, help=help_text)
    if attack.add_arguments is not None:
        attack.call("add_arguments", parser)
    else:
        add_config_arguments(parser, attack.config_class)
    parser.add_argument("--device", default=None, help="auto (default), cuda, mps or cpu")
    parser.add_argument("--batch-size", type=int, default=None, help="images per forward pass (default: the attack's)")
    parser.add_argument("--workers", type=int, default=None, help="image loading workers (default: the attack's)")
    add_output_arguments(parser, rows=f"per-{attack.unit} rows")


def add_config_arguments(parser: argparse.ArgumentParser, config_class: type) -> None:
    """One flag per config field: `--field-name`, typed from the field, its default from the dataclass."""
    for field, hint in config_fields(config_class):
        flag = field.metadata.get("cli", "--" + field.name.replace("_", "-"))
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        help_text = f"{field_help(field)} (default: {default})".strip()
        choices = field_choices(field, hint)
        origin = typing.get_origin(hint)
        if hint is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, dest=field.name, help=help_text)
        elif origin is tuple:
            item = typing.get_args(hint)[0] if typing.get_args(hint) else str
            parser.add_argument(flag, nargs="+", type=item, default=default, dest=field.name, help=help_text)
        elif choices is not None:
            parser.add_argument(flag, choices=choices, default=default, dest=field.name, help=help_text)
        else:
            hint = optional_of(hint) or hint  # `X | None`: the flag takes an X, left out it stays None
            parser.add_argument(flag, type=hint if hint in (int, float, str) else str, default=default, dest=field.name,
                                help=help_text)


def config_from_arguments(attack: Attack, args: argparse.Namespace) -> Any:
    if attack.config_from_args is not None:
        return attack.call("config_from_args", args)
    names = [field.name for field, _ in config_fields(attack.config_class)]
    return attack.make_config({name: getattr(args, name) for name in names})


def run_attack(args: argparse.Namespace) -> int:
    from leakage.attacks.base import RunContext
    from leakage.catalog import check_data_name, check_model_name

    attack = get_attack(args.attack)
    roles = {role: getattr(args, role) for role, _ in attack.extra_models if getattr(args, role, None)}
    for spec in (args.model, *roles.values()):
        check_model_name(spec, attack.model_kind)  # a wrong name fails now, before torch is even imported
    check_data_name(args.data)
    config = config_from_arguments(attack, args)
    options = attack.call("options_from_args", args) if attack.options_from_args is not None else {}

    from leakage.catalog import resolve_data, resolve_model
    from leakage.progress import StageBars

    quiet_transformers()
    bars = StageBars(enabled=not args.quiet)
    model = resolve_model(args.model, attack.model_kind, pretrained=args.pretrained, device=args.device, progress=bars)
    extra = {role: resolve_model(spec, attack.model_kind, device=args.device, progress=bars) for role, spec in roles.items()}
    dataset, dataset_id = resolve_data(args.data, model=args.model, default_lab=attack.default_data, progress=bars,
                                       load=attack.load_data)
    context = RunContext(progress=bars, dataset_id=dataset_id, device=args.device, batch_size=args.batch_size,
                         num_workers=args.workers, extra_models=extra, options=options)
    result = attack.execute(model, dataset, config, context)
    bars.close()
    print("\n".join(attack.call("summary_lines", result)))
    emit_result(result, args, rows=f"per-{attack.unit} rows")
    return 0


def quiet_transformers() -> None:
    """transformers' own per-file progress bars would interleave with ours."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    transformers_logging.disable_progress_bar()
