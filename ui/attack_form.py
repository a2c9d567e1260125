"""The inputs part of a page generated from an attack's declaration: model and data pickers (the
lab's names of the right kind, or a path) and a form generated from the config dataclass. Attacks
whose page needs more declare their own inputs part (`ui.page_parts.PageParts.inputs`) and may
reuse these pickers."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import streamlit as st

from leakage.attacks.base import Attack, config_fields, field_choices, field_help, optional_of
from leakage.catalog import DATA_FORMATS, MODEL_KINDS, lab_data_sets, lab_models
from leakage.paths import PathNotAllowed, check_allowed
from ui.inputs import Inputs
from ui.text import md

OTHER = "Other: a path or a model id"


def model_picker(attack: Attack, label: str, key: str, default: str | None = None) -> str | None:
    kind = MODEL_KINDS[attack.model_kind]
    names = [model.name for model in lab_models(attack.model_kind)]
    descriptions = {model.name: model.description for model in lab_models(attack.model_kind)}
    options = names + [OTHER]
    index = options.index(default) if default in options else 0
    choice = st.radio(label, options, index=index, key=f"{key}-choice",
                      captions=[descriptions.get(name, kind.accepts) for name in options])
    if choice == OTHER:
        return allowed(st.text_input(f"{label}: path or id", key=f"{key}-path", help=kind.accepts).strip() or None, "model")
    return choice


def allowed(spec: str | None, kind: str) -> str | None:
    """`spec`, or None with the refusal shown when it is a path outside this server's roots."""
    try:
        check_allowed(spec, kind)
    except PathNotAllowed as refusal:
        st.error(md(refusal))
        return None
    return spec


def data_picker(attack: Attack, key: str) -> str | None:
    """The lab data sets this attack can read (its formats, made for its kind of model), or a folder."""
    readable = [entry for entry in lab_data_sets(attack) if entry.name != "lab"]
    options = ["lab"] + [entry.name for entry in readable] + ["Folder"]
    captions = ["the lab data set that goes with the chosen model (or " + attack.default_data + ")"]
    captions += [entry.description for entry in readable] + [" or ".join(DATA_FORMATS[f] for f in attack.reads)]
    choice = st.radio("Data", options, key=f"{key}-data-choice", captions=captions, label_visibility="collapsed")
    if choice == "Folder":
        return allowed(st.text_input("Folder", key=f"{key}-data-path").strip() or None, "data")
    return choice


def config_widget(field: dataclasses.Field, hint: Any, key: str) -> Any:
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
    label = field.metadata.get("label", field.name.replace("_", " ").capitalize())
    help_text = field_help(field) or None
    widget_key = f"{key}-{field.name}"
    choices = field_choices(field, hint)
    if hint is bool:
        return st.checkbox(label, value=default, key=widget_key, help=help_text)
    if choices is not None:
        return st.selectbox(label, list(choices), index=list(choices).index(default), key=widget_key, help=help_text)
    if optional_of(hint) in (int, float):  # may be left empty: None
        value = st.number_input(label, value=default, key=widget_key, help=help_text, placeholder="not set",
                                step=1 if optional_of(hint) is int else None, format=None if optional_of(hint) is int else "%.4g")
        return None if value is None else optional_of(hint)(value)
    if hint is int:
        return int(st.number_input(label, value=int(default), step=1, key=widget_key, help=help_text,
                                   min_value=field.metadata.get("min"), max_value=field.metadata.get("max")))
    if hint is float:
        return float(st.number_input(label, value=float(default), key=widget_key, help=help_text, format="%.4g",
                                     min_value=field.metadata.get("min"), max_value=field.metadata.get("max")))
    if typing.get_origin(hint) is tuple:
        item = (typing.get_args(hint) or (str,))[0]
        if item is str:
            text = st.text_area(label + " (one per line)", "\n".join(default), key=widget_key, help=help_text)
            return tuple(line.strip() for line in text.splitlines() if line.strip())
        text = st.text_input(label + " (comma-separated)", ", ".join(str(v) for v in default), key=widget_key, help=help_text)
        return tuple(item(part) for part in text.replace(" ", "").split(",") if part)
    return st.text_input(label, str(default), key=widget_key, help=help_text)


def config_form(attack: Attack, key: str) -> tuple[Any, str | None]:
    values = {}
    try:
        for field, hint in config_fields(attack.config_class):
            values[field.name] = config_widget(field, hint, key)
        return attack.make_config(values), None
    except ValueError as error:
        return None, str(error)


def generic_inputs(attack: Attack, key: str) -> Inputs:
    """The sidebar: the model under test (and the extra models the attack declares), the data, the
    config form and whether to keep the run."""
    with st.sidebar:
        st.header("Model")
        model = model_picker(attack, "Model under test", f"{key}-model", attack.default_model)
        extra = {}
        for role, help_text in attack.extra_models:
            if st.checkbox(f"Use a {role} model", key=f"{key}-use-{role}", help=help_text):
                extra[role] = model_picker(attack, f"{role.capitalize()} model", f"{key}-{role}")
        st.header("Data")
        data = data_picker(attack, key)
        st.header("Attack")
        config, error = config_form(attack, f"{key}-config")
        keep = st.checkbox("Keep this run in the run store", value=True, key=f"{key}-keep")
    return Inputs(model=model, data=data, config=config, extra_models=extra, store=keep, error=error)
