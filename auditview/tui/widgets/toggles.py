"""Radio buttons and checkboxes whose state reads as text: ``(•)``/``( )`` and ``[x]``/``[ ]``.

Textual's own toggles draw the same ``●`` for on and off and tell them apart by colour only, which is
invisible under ``NO_COLOR`` and on monochrome terminals.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox, RadioButton

__all__ = ["TextCheckbox", "TextRadioButton"]


class TextRadioButton(RadioButton):
    """A radio button drawn as ``(•)`` when selected and ``( )`` when not."""

    @property
    def _button(self) -> Content:
        return Content.styled("(•)" if self.value else "( )", self.get_visual_style("toggle--button"))


class TextCheckbox(Checkbox):
    """A checkbox drawn as ``[x]`` when ticked and ``[ ]`` when not."""

    @property
    def _button(self) -> Content:
        return Content.styled("[x]" if self.value else "[ ]", self.get_visual_style("toggle--button"))
