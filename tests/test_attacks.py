"""The attack registry: what the CLI, the pages, the store and the report discover from it, and the
catalog's refusal of a wrong model name before anything is loaded."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import pytest

from leakage.attacks import ATTACKS, attack_spec, get_attack, list_attacks
from leakage.catalog import check_model_name, lab_models
from leakage.cli import build_parser
from leakage.commands.attacks import config_from_arguments


def test_python_m_leakage_attacks_lists_every_registered_attack():
    done = subprocess.run([sys.executable, "-m", "leakage", "attacks"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    listed = [line.split()[0] for line in done.stdout.splitlines() if line and not line.startswith(" ")]
    assert listed == [attack.name for attack in list_attacks()]
    assert {"idia", "vlm", "mim", "clip-mia"} <= set(listed)


def test_a_wrong_kind_of_lab_model_fails_at_once_naming_the_right_one():
    command = [sys.executable, "-m", "leakage", "vlm-probe", "--model", "lab", "--data", "lab"]
    subprocess.run(command, capture_output=True, timeout=60)  # a fresh clone compiles its modules once, as any install does
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 2
    assert "lab-vlm" in done.stderr and "needs a vision-language model" in done.stderr
    assert "Cannot load" not in done.stderr  # no hub was tried
    assert elapsed < 2.0, f"took {elapsed:.2f} s"


def test_an_unknown_lab_name_lists_the_valid_names_of_that_kind():
    with pytest.raises(ValueError) as error:
        check_model_name("lab-mea", "mae")
    assert all(model.name in str(error.value) for model in lab_models("mae"))
    check_model_name("lab-mae", "mae")  # a right name passes


def test_every_attack_declares_what_the_pages_store_and_report_need():
    for attack in list_attacks():
        assert attack.title and attack.question and attack.explanation and attack.attacker_has
        assert attack.threat in {"confidentiality", "integrity", "availability"}
        assert dataclasses.is_dataclass(attack.config_class)
        attack.config_class()  # the defaults make a valid config
        assert lab_models(attack.model_kind), f"{attack.name}: no lab model of kind {attack.model_kind}"
        if attack.parts:  # its page's parts resolve to a PageParts whose sections take (result, key)
            from ui.page_parts import PageParts, parts_of

            parts = parts_of(attack)
            assert isinstance(parts, PageParts) and parts.sections and all(callable(section) for section in parts.sections)
    assert get_attack("vlm-probe") is ATTACKS["vlm"]  # the CLI's name for it is an alias
    assert attack_spec("retired-attack").units == "records"  # a stored run of an attack this code lacks still opens


def test_an_attack_without_its_own_cli_gets_one_flag_per_config_field():
    args = build_parser().parse_args(["clip-mia", "--model", "lab", "--data", "lab", "--augmentations", "3", "--seed", "7"])
    config = config_from_arguments(get_attack("clip-mia"), args)
    assert (config.augmentations, config.seed) == (3, 7)


def test_a_config_is_rebuilt_from_plain_values_and_unknown_settings_are_refused():
    idia = get_attack("idia")
    config = idia.make_config({"images_per_person": 3, "templates": ["{}", "a photo of {}"], "tau": 1})
    assert config.templates == ("{}", "a photo of {}")
    with pytest.raises(ValueError, match="no setting"):
        idia.make_config({"images_per_persn": 3})
