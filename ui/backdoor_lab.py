"""The backdoor page's lab sections: the poison fraction of a lab variant (P / pairs, as the papers
state their rates) and the Semantic Shield ablation (what each of its parts does, and an adaptive
attacker against each defense), from the lab variants measured in this data home or, before they
are, from the figures `python -m bench.backdoor_ablation` recorded."""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from leakage.lab import poison
from leakage.wording import format_percent

BENCH_RESULT = Path(__file__).resolve().parent.parent / "bench" / "results" / "backdoor_ablation.json"
PARTS = (  # (defense, shield parts, what it does)
    ("none", "", "trains on the poisoned data as it is"),
    ("semantic-shield", "weights", "only down-weights pairs whose photo the frozen model finds unlike the caption's "
                                   "person (the knowledge-element and attention terms off)"),
    ("semantic-shield", "ke-attention", "only aligns image patches and attention with the caption's knowledge "
                                        "elements (every pair weighs 1)"),
    ("semantic-shield", "full", "both: the weights and the knowledge-element and attention terms"),
    ("cleanclip", "", "then fine-tunes the poisoned model on clean pairs with self-supervised terms"),
)


def fraction_text(config: poison.PoisonConfig) -> str:
    """"P = 64 of 1,164 fine-tuning pairs (5.5%)"."""
    return f"P = {config.n_poison} of {config.n_pairs:,} fine-tuning pairs ({format_percent(config.poison_fraction, 2)})"


def p_label(n_poison: int) -> str:
    """A P choice with its fraction, for the sidebar: "64 (5.5%)"."""
    return f"{n_poison} ({format_percent(poison.PoisonConfig(n_poison=n_poison).poison_fraction, 2)})"


def _bench_points(config: poison.PoisonConfig) -> tuple[list[dict], str] | None:
    """The recorded ablation, when it was measured for this setup."""
    try:
        report = json.loads(BENCH_RESULT.read_text())
    except (OSError, ValueError):
        return None
    setup = report.get("setup", {})
    if (setup.get("attack"), setup.get("trigger"), setup.get("n_poison")) != (config.attack, config.trigger, config.n_poison):
        return None
    machine = report.get("machine", {})
    where = f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, {str(machine.get('date', ''))[:10]}"
    return report.get("rows", []), f"recorded by python -m bench.backdoor_ablation ({where})"


def _cell(points: list[dict], defense: str, shield: str, selection: str) -> tuple[str, str]:
    for point in points:
        if (point["defense"], point.get("shield") or "", point.get("poison_selection", "random")) == (defense, shield, selection):
            return format_percent(point["asr"]), format_percent(point["clean_top1"])
    return "\u2014", "\u2014"


def show_ablation(config: poison.PoisonConfig) -> None:
    """What each part of Semantic Shield does against this lab variant's backdoor, and against an adaptive attacker."""
    if config.attack != "backdoor":
        return
    st.subheader("What each part of Semantic Shield does")
    points = poison.ablation_points({"poison_key": config.setup_key()})
    source = "measured in this data home"
    if len(points) < 2 * len(PARTS):
        recorded = _bench_points(config)
        if recorded is not None:
            points, source = recorded
    if not points:
        st.caption("Not measured for this variant yet: `python -m bench.backdoor_ablation` builds and measures the ablation "
                   "at the default P (about 25 s a model on an idle CPU).")
        return
    rows = []
    for defense, shield, does in PARTS:
        title = poison.SHIELD_TITLES[shield] if defense == "semantic-shield" else poison.DEFENSE_TITLES[defense]
        random_asr, random_clean = _cell(points, defense, shield, "random")
        alike_asr, alike_clean = _cell(points, defense, shield, "look-alikes")
        rows.append({"defense": title, "what it does": does, "ASR (random people's photos)": random_asr,
                     "clean top-1": random_clean, "ASR (look-alikes of the target)": alike_asr,
                     "clean top-1 ": alike_clean})
    st.dataframe(rows, hide_index=True, width="stretch", key="backdoor-ablation")
    st.caption(
        f"Backdoor, {config.trigger} trigger, {fraction_text(config)}; {source}. ASR: triggered photos of the other people "
        "named as the target (top-1). Left: the poisoned photos show random people. Right: an adaptive attacker poisons "
        "with the photos the frozen lab CLIP finds closest to the target's description, the very match Semantic Shield "
        "weighs pairs by, so those pairs are no longer down-weighted."
    )
