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
from leakage.commands._params import param


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
    from leakage.catalog import DATA_FORMATS, MODEL_KINDS, lab_data_sets, lab_models

    kind = MODEL_KINDS[attack.model_kind]
    lab_names = " | ".join(model.name for model in lab_models(attack.model_kind))
    data_names = "".join(f" | {entry.name}" for entry in lab_data_sets(attack) if entry.name != "lab")
    parser.add_argument("--model", required=True, help=f"{lab_names} | {kind.accepts}")
    parser.add_argument("--pretrained", default=None, help="pretrained tag or local checkpoint file (open_clip names)")
    parser.add_argument("--model-param", action="append", default=[], metavar="KEY=VALUE", type=param, dest="model_params",
                        help="a setting of the lab model's recipe, for a variant of it built on first use "
                             "(e.g. a poisoned lab CLIP with --model-param n_poison=16 --model-param defense=cleanclip)")
    parser.add_argument("--data", required=True, help=f"lab (the lab data set that goes with the model; default {attack.default_data})"
                                                      f"{data_names} | {' | '.join(DATA_FORMATS[f] for f in attack.reads)}")
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
    from dataclasses import replace

    from leakage.service import RunRequest, check_request

    attack = get_attack(args.attack)
    roles = {role: getattr(args, role) for role, _ in attack.extra_models if getattr(args, role, None)}
    request = RunRequest(attack.name, args.model, args.data, pretrained=args.pretrained, extra_models=roles,
                         model_params=dict(args.model_params), label=args.label, store=not args.no_store)
    check_request(request)  # a wrong name fails now, before torch is even imported
    options = attack.call("options_from_args", args) if attack.options_from_args is not None else {}
    request = replace(request, config=config_from_arguments(attack, args), options=options)

    from leakage.progress import StageBars
    from leakage.service import run_attack as run

    quiet_transformers()
    bars = StageBars(enabled=not args.quiet)
    result = run(request, progress=bars, device=args.device, batch_size=args.batch_size, num_workers=args.workers)
    bars.close()
    print("\n".join(attack.call("summary_lines", result)))
    return emit_result(result, args, rows=f"per-{attack.unit} rows")


def quiet_transformers() -> None:
    """transformers' own per-file progress bars would interleave with ours."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    transformers_logging.disable_progress_bar()
