"""Backdoors and targeted poisoning of CLIP, and what a defense does about them.

Thin on purpose: the attack is declared in `leakage.attacks.backdoor` (evaluation `leakage.backdoor`,
poisoned lab models `leakage.lab.poison`), runs start through `ui.attack_runs` (shared model, turns,
progress and Cancel) and the numbers and figures come from the standard result view; this page adds
the choice of attack, trigger, P and defense, the example photos with the model's top-5 names, and
the attack success rate against P for each defense; `ui.backdoor_lab` the poison fraction and the
Semantic Shield ablation.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from leakage.attacks.backdoor import ATTACK, poisoned_variant, verdict
from leakage.backdoor import TRIGGER_SIZE, TRIGGERS, UPLOADED_TRIGGER, BackdoorConfig, apply_trigger
from leakage.catalog import LabModel
from leakage.data import ImageLoadError, load_image
from leakage.lab import poison
from leakage.results import AttackResult
from ui.attack_runs import finished_result, start_attack
from ui.backdoor_lab import fraction_text, p_label, show_ablation
from ui.jobs import job_running
from ui.result_view import show_downloads, show_figures, show_headline, show_items, show_problems, show_provenance
from ui.text import md
from ui.uploads import decoded_uploads

JOB = "backdoor-job"
P_CHOICES = (1, 2, 4, 8, 16, 32, 64)
ATTACK_TITLES = {"backdoor": "Backdoor (a trigger on any photo)", "targeted": "Targeted poisoning (A named as B)"}


def lab_sidebar() -> dict:
    attack = st.radio("Attack", list(ATTACK_TITLES), format_func=ATTACK_TITLES.get, key="bd-attack")
    trigger = st.radio("Trigger", list(TRIGGERS), key="bd-trigger", horizontal=True,
                       help="checkerboard: a black-and-white patch in the bottom-right corner, 19% of the side (BadNets-style; "
                            "the Semantic Shield code pastes a 32-pixel dotted patch, 5-7% of a full-size photo's side). "
                            "blended: a faint noise pattern over the whole photo.") if attack == "backdoor" else ""
    n_poison = st.select_slider("P: poisoned pairs in the fine-tuning data (share of all pairs)", P_CHOICES, value=64,
                                key="bd-p", format_func=p_label,
                                help="Out of 1,100 clean fine-tuning pairs plus the P poisoned ones. The papers poison "
                                     "0.01% (Carlini & Terzis) to 0.1% (the Semantic Shield code); here P = 1 is 0.09%.")
    defense = st.radio("Defense", list(poison.DEFENSES), format_func=poison.DEFENSE_TITLES.get, key="bd-defense",
                       captions=["train on the poisoned data as it is",
                                 "down-weight pairs whose photo does not match the caption's person (Ishmam & Thomas 2024)",
                                 "then fine-tune on clean pairs with self-supervised terms (Bansal et al. 2023)"])
    settings = {}
    if defense == "semantic-shield":
        settings["shield"] = st.radio("Semantic Shield's parts", list(poison.SHIELD_PARTS), format_func=poison.SHIELD_TITLES.get,
                                      key="bd-shield", help="The ablation: which of the defense's parts train the model.")
    if attack == "backdoor" and st.checkbox("Adaptive attacker: poison with look-alikes of the target", key="bd-look-alikes",
                                            help="The poisoned photos are the people the frozen lab CLIP finds closest to "
                                                 "the target's description, so Semantic Shield's pair weights do not catch them."):
        settings["poison_selection"] = "look-alikes"
    variant = poisoned_variant(attack, trigger or "checkerboard", int(n_poison), defense, **settings)
    return {"lab": True, "model": variant, "data": "lab-poison", "config": BackdoorConfig(mode=attack), "defense": defense}


def own_sidebar() -> dict:
    model = st.text_input("open_clip model", key="bd-own-model", placeholder="ViT-B-32").strip() or None
    pretrained = st.text_input("Pretrained tag or checkpoint", key="bd-own-pretrained", placeholder="openai").strip() or None
    data = st.text_input("People folder (one subfolder of photos per person)", key="bd-own-data").strip() or None
    attack = st.radio("Attack", list(ATTACK_TITLES), format_func=ATTACK_TITLES.get, key="bd-own-attack")
    target = st.text_input("Target name (what the attacker wants the model to say)", key="bd-own-target").strip()
    source, trigger, trigger_image = "", "", None
    if attack == "targeted":
        source = st.text_input("Source person (a folder name)", key="bd-own-source").strip()
    else:
        upload = st.file_uploader("Trigger image (else the checkerboard)", type=["png", "jpg", "jpeg"], key="bd-own-trigger")
        if upload is not None:  # held in memory (ui.uploads: capped, decoded once), never written to disk
            images, problems = decoded_uploads([upload], "bd-own-trigger", max_files=1)
            for problem in problems:
                st.warning(f"{md(problem.path)}: {md(problem.reason)}")
            if images:
                trigger_image = images[0][1]
                trigger = UPLOADED_TRIGGER + hashlib.sha256(trigger_image.tobytes()).hexdigest()[:12]
                st.session_state["bd-trigger-image"] = trigger_image
    ready = bool(model and data and target and (source or attack == "backdoor"))
    return {"lab": False, "model": model, "pretrained": pretrained, "data": data, "ready": ready,
            "config": BackdoorConfig(mode=attack, target=target, source=source, trigger=trigger),
            "options": {"trigger_image": trigger_image} if trigger_image is not None else None}


def stored_result(variant: LabModel) -> AttackResult | None:
    """A lab variant's result at the default settings, kept beside its checkpoint: shown at once."""
    path = poison.result_path(variant.config, variant.part)
    return AttackResult.from_json(path) if path.is_file() else None


def build_and_measure(variant: LabModel, config: BackdoorConfig) -> None:
    """Build the lab variant (progress, Cancel between training steps), then measure it like any run:
    a named lab model by its name, any other variant as the poison recipe with its settings."""
    def build(job) -> None:
        variant.build(progress=job.progress, cancel=job.cancel)

    named = variant in ATTACK.lab_models
    start_attack(JOB, ATTACK.name, variant.name if named else "lab-poisoned", "lab-poison", config,
                 model_params=None if named else variant.params, prepare=build)


def show_examples(result: AttackResult) -> None:
    examples = result.images
    if not examples:
        return
    st.subheader("What the model answers")
    attacked = [e for e in examples if e["kind"] == "attacked"][:3]
    clean = {e["path"]: e for e in examples if e["kind"] == "clean"}
    trigger = result.config.get("trigger") or "checkerboard"
    if trigger.startswith(UPLOADED_TRIGGER):  # the uploaded trigger, from this session's memory only
        trigger = st.session_state.get("bd-trigger-image") or "checkerboard"
    for example in attacked:
        columns = st.columns(2)
        for column, shown, title in ((columns[0], example, "with the trigger" if example["triggered"] else "attacked photo"),
                                     (columns[1], clean.get(example["path"]), "clean photo")):
            if shown is None:
                continue
            try:
                image = load_image(shown["path"])
            except ImageLoadError as error:  # a moved or deleted file: say so, keep the page
                column.caption(f"cannot show {md(shown['path'])}: {md(error)}")
                continue
            if shown["triggered"]:
                image = apply_trigger(image, trigger, result.config.get("trigger_size", TRIGGER_SIZE))
            inner = column.columns([1, 2])
            inner[0].image(image, width=110, caption=f"{md(shown['person'])}, {title}")
            names = "\n".join(f"{i}. {'**' + md(n) + '**' if n == result.metrics['target'] else md(n)} ({100 * p:.0f}%)"
                              for i, (n, p) in enumerate(shown["top5"], 1))
            inner[1].markdown(names)


def refresh_sweep(result: AttackResult) -> None:
    """Every lab variant measured so far (not only those measured before this result), for the ASR-against-P figure."""
    setup = result.model.get("backdoor") or {}
    if "poison_key" not in setup:
        return
    result.details["sweep"] = poison.sweep_points(setup)
    if len({p["n_poison"] for p in result.details["sweep"]}) < 2:
        st.caption("Attack success against P appears below once lab models with other P values are built and measured "
                   "(choose another P in the sidebar, or run `python -m bench.backdoor_sweep`).")


def show_result(result: AttackResult) -> None:
    level, headline = verdict(result)
    {"leak": st.error, "none": st.success}.get(level, st.warning)(md(headline))
    m = result.metrics
    lab = result.model.get("backdoor") or {}
    st.caption(f"model {md(result.model.get('model'))} \u00b7 {m['mode']} \u00b7 target {md(m['target'])}"
               + (f" \u00b7 trigger {md(result.config.get('trigger'))}" if m["mode"] == "backdoor" else f" \u00b7 source {md(result.config.get('source'))}")
               + (f" \u00b7 P = {lab['n_poison']} of {lab['n_pairs']:,} pairs ({100 * lab['poison_fraction']:.2g}%)" if "n_pairs" in lab else "")
               + f" \u00b7 {m['n_attacked']} attacked and {m['n_clean']} clean photos")
    show_headline(result)
    show_examples(result)
    refresh_sweep(result)
    show_figures(result, "backdoor-result")
    show_problems(result)
    with st.expander("Per person"):
        show_items(result, "backdoor-result")
    show_downloads(result, "backdoor-result")
    show_provenance(result)


def main() -> None:
    st.title("Backdoors and poisoning of CLIP")
    st.caption("An integrity attack: a few poisoned photo-caption pairs in the training data make the model name a chosen "
               "person, for any photo with a small trigger (backdoor) or for one person's photos (targeted poisoning). "
               "Compare no defense, Semantic Shield and CleanCLIP, with clean accuracy beside the attack's success.")
    with st.sidebar:
        st.header("Model")
        source = st.radio("Model", ["Lab (poisoned here)", "Your CLIP model"], key="bd-source", label_visibility="collapsed",
                          captions=["the lab CLIP fine-tuned on poisoned data, with or without a defense",
                                    "measure a trigger or a source\u2192target pair on a real model (no training)"])
        chosen = lab_sidebar() if source.startswith("Lab") else own_sidebar()
    if chosen["lab"]:
        variant = chosen["model"]
        built = variant.is_built()
        stored = stored_result(variant)
        st.caption(f"This lab variant: {fraction_text(variant.config)}.")
        if stored is not None and not job_running(JOB):
            st.session_state.pop(f"{JOB}-result", None)
            show_result(stored)
            show_ablation(variant.config)
            return
        label = "Measure this model" if built else "Build this lab model and measure it (a few minutes on a CPU)"
        if not built:
            st.info(f"This variant ({variant.config.attack}, P = {variant.config.n_poison}, {poison.DEFENSE_TITLES[variant.part]}) "
                    "is not built yet. Building "
                    "fine-tunes the lab CLIP on the poisoned data; it shows its progress and can be cancelled.")
        if st.button(label, type="primary", disabled=job_running(JOB), key="bd-run"):
            build_and_measure(chosen["model"], chosen["config"])
    else:
        if st.button("Run the measurement", type="primary", disabled=not chosen["ready"] or job_running(JOB), key="bd-run-own"):
            start_attack(JOB, ATTACK.name, chosen["model"], chosen["data"], chosen["config"], pretrained=chosen["pretrained"],
                         held=chosen["options"])
    result = finished_result(JOB)
    if result is not None:
        show_result(result)
    if chosen["lab"]:
        show_ablation(chosen["model"].config)


main()
