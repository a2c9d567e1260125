"""Lessons: teach privacy and integrity risks in guided steps, each with a live result from the lab.

Thin on purpose: the lessons are data in `leakage.lessons`, the page is `ui.lessons`."""

from ui.lessons import render

render()
