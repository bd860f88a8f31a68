"""Forms built from engine config dataclasses (DESIGN.md rule 3).

Each field becomes an editor chosen by its type; ranges, choices, labels and tooltips come from
the field's ``metadata`` (``range=(lo, hi)``, ``choices=(...)``, ``label=...``, ``help=...``,
``step=...``, ``decimals=...``). Fields of other types (tuples, nested configs) are left to the
caller and kept unchanged.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)


def _label(field: dataclasses.Field) -> str:
    return field.metadata.get("label") or field.name.replace("_", " ").capitalize()


class ConfigForm(QWidget):
    """Editors for the simple fields of a dataclass instance; :meth:`value` returns a new one."""

    changed = Signal()

    def __init__(self, config: Any, fields: list[str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._config = config
        self._hints = typing.get_type_hints(type(config))
        self.editors: dict[str, QWidget] = {}
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for field in dataclasses.fields(config):
            if fields is not None and field.name not in fields:
                continue
            editor = self._make_editor(field, getattr(config, field.name))
            if editor is None:
                continue
            editor.setToolTip(field.metadata.get("help", ""))
            self.editors[field.name] = editor
            layout.addRow(_label(field), editor)

    def _make_editor(self, field: dataclasses.Field, value: Any) -> QWidget | None:
        kind = self._hints.get(field.name)
        meta = field.metadata
        if "choices" in meta:
            editor = QComboBox()
            for choice in meta["choices"]:
                editor.addItem(str(choice), choice)
            editor.setCurrentIndex(max(0, editor.findData(value)))
            editor.currentIndexChanged.connect(self.changed)
            return editor
        if kind is bool:
            editor = QCheckBox()
            editor.setChecked(bool(value))
            editor.toggled.connect(self.changed)
            return editor
        if kind is int:
            editor = QSpinBox()
            low, high = meta.get("range", (-(2**31) + 1, 2**31 - 1))
            editor.setRange(int(low), int(high))
            editor.setSingleStep(int(meta.get("step", 1)))
            editor.setValue(int(value))
            editor.valueChanged.connect(self.changed)
            return editor
        if kind is float:
            editor = QDoubleSpinBox()
            low, high = meta.get("range", (-1e12, 1e12))
            editor.setDecimals(int(meta.get("decimals", 4)))
            editor.setRange(float(low), float(high))
            editor.setSingleStep(float(meta.get("step", 0.1)))
            editor.setValue(float(value))
            editor.valueChanged.connect(self.changed)
            return editor
        if kind is str:
            editor = QLineEdit(str(value))
            editor.editingFinished.connect(self.changed)
            return editor
        return None

    def value(self) -> Any:
        """A copy of the config with the edited values."""
        updates: dict[str, Any] = {}
        for name, editor in self.editors.items():
            if isinstance(editor, QComboBox):
                updates[name] = editor.currentData()
            elif isinstance(editor, QCheckBox):
                updates[name] = editor.isChecked()
            elif isinstance(editor, QSpinBox | QDoubleSpinBox):
                updates[name] = editor.value()
            elif isinstance(editor, QLineEdit):
                updates[name] = editor.text()
        return dataclasses.replace(self._config, **updates)

    def set_value(self, config: Any) -> None:
        """Show the values of ``config`` (same dataclass type)."""
        self._config = config
        for name, editor in self.editors.items():
            value = getattr(config, name)
            editor.blockSignals(True)
            if isinstance(editor, QComboBox):
                editor.setCurrentIndex(max(0, editor.findData(value)))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QSpinBox | QDoubleSpinBox):
                editor.setValue(value)
            elif isinstance(editor, QLineEdit):
                editor.setText(str(value))
            editor.blockSignals(False)
        self.changed.emit()
