"""Forms built from engine config dataclasses (DESIGN.md rule 3).

Each field becomes an editor chosen by its type and its :func:`engines.core.config.param`
metadata: choices give a combo box, ranges, steps and decimals bound a spin box, ``parse`` /
``format`` give a line edit of the text form (e.g. ``2000:200000``), an optional number gets a
check box that enables it, and the label carries the unit. Nested configs and fields with no
simple editor are left to the caller and kept unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from engines.core.config import base_type, choices_of, describe_range, field_types, label_of
from engines.core.errors import InputError

INT_LIMIT = 2**31 - 1


def form_label(field: dataclasses.Field) -> str:
    unit = field.metadata.get("unit")
    return f"{label_of(field)} ({unit})" if unit else label_of(field)


class _Optional(QWidget):
    """A check box that enables an editor: unchecked means None."""

    def __init__(self, editor: QWidget, changed: Signal) -> None:
        super().__init__()
        self.check = QCheckBox()
        self.editor = editor
        self.check.toggled.connect(editor.setEnabled)
        self.check.toggled.connect(changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.check)
        layout.addWidget(editor, 1)


class ConfigForm(QWidget):
    """Editors for the simple fields of a dataclass instance; :meth:`value` returns a new one."""

    changed = Signal()

    def __init__(self, config: Any, fields: list[str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._config = config
        self._hints = field_types(type(config))
        self._fields = {f.name: f for f in dataclasses.fields(config)}
        self.editors: dict[str, QWidget] = {}
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        names = fields if fields is not None else list(self._fields)
        for name in names:
            field = self._fields[name]
            editor = self._make_editor(field)
            if editor is None:
                continue
            tip = field.metadata.get("help", "")
            constraint = describe_range(field) if "range" in field.metadata else ""
            editor.setToolTip(f"{tip} [{constraint}]" if constraint else tip)
            self.editors[name] = editor
            layout.addRow(form_label(field), editor)
        self.set_value(config)

    def insert_row(self, index: int, label: str, widget: QWidget) -> None:
        """Put a caller's own editor (e.g. a preset choice) at row ``index`` of this form (-1:
        at the end)."""
        self.layout().insertRow(index, label, widget)

    def label_width(self) -> int:
        layout = self.layout()
        labels = [layout.itemAt(row, QFormLayout.ItemRole.LabelRole)
                  for row in range(layout.rowCount())]
        return max((item.widget().sizeHint().width() for item in labels
                    if item is not None and item.widget() is not None), default=0)

    def set_label_width(self, width: int) -> None:
        layout = self.layout()
        for row in range(layout.rowCount()):
            item = layout.itemAt(row, QFormLayout.ItemRole.LabelRole)
            if item is not None and item.widget() is not None:
                item.widget().setMinimumWidth(width)

    def _make_editor(self, field: dataclasses.Field) -> QWidget | None:
        kind, optional = base_type(self._hints.get(field.name))
        meta = field.metadata
        choices = choices_of(field)
        if choices is not None and not isinstance(field.default, tuple):
            editor = QComboBox()
            for choice in choices:
                editor.addItem(str(choice), choice)
            editor.currentIndexChanged.connect(self.changed)
            return editor
        if "parse" in meta:
            editor = QLineEdit()
            editor.editingFinished.connect(self.changed)
        elif kind is bool:
            editor = QCheckBox()
            editor.toggled.connect(self.changed)
            return editor
        elif kind is int:
            editor = QSpinBox()
            low, high = meta.get("range", (-INT_LIMIT, INT_LIMIT))
            editor.setRange(int(max(low, -INT_LIMIT)), int(min(high, INT_LIMIT)))
            editor.setSingleStep(int(meta.get("step", 1)))
            editor.valueChanged.connect(self.changed)
        elif kind is float:
            editor = QDoubleSpinBox()
            low, high = meta.get("range", (-1e12, 1e12))
            editor.setDecimals(int(meta.get("decimals", 4)))
            editor.setRange(float(low), float(min(high, 1e12)))
            editor.setSingleStep(float(meta.get("step", 0.1)))
            editor.valueChanged.connect(self.changed)
        elif kind is str:
            editor = QLineEdit()
            editor.editingFinished.connect(self.changed)
        else:
            return None
        return _Optional(editor, self.changed) if optional else editor

    def _read(self, name: str, editor: QWidget) -> Any:
        if isinstance(editor, _Optional):
            return self._read(name, editor.editor) if editor.check.isChecked() else None
        if isinstance(editor, QComboBox):
            return editor.currentData()
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QSpinBox | QDoubleSpinBox):
            return editor.value()
        parse = self._fields[name].metadata.get("parse")
        if parse is None:
            return editor.text()
        try:
            return parse(editor.text())
        except InputError as exc:
            raise InputError(f"{label_of(self._fields[name])}: {exc}") from None

    def _show(self, name: str, editor: QWidget, value: Any) -> None:
        editor.blockSignals(True)
        if isinstance(editor, _Optional):
            editor.check.setChecked(value is not None)
            editor.editor.setEnabled(value is not None)
            suggested = self._fields[name].metadata.get("suggest")
            if value is not None or suggested is not None:
                self._show(name, editor.editor, suggested if value is None else value)
        elif isinstance(editor, QComboBox):
            editor.setCurrentIndex(max(0, editor.findData(value)))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QSpinBox | QDoubleSpinBox):
            editor.setValue(value)
        else:
            fmt = self._fields[name].metadata.get("format", str)
            editor.setText(fmt(value))
        editor.blockSignals(False)

    def value(self, **fixed: Any) -> Any:
        """A copy of the config with the edited values and ``fixed`` values on top (validated:
        InputError when a value is out of range or a text field does not parse)."""
        updates = {name: self._read(name, editor) for name, editor in self.editors.items()}
        return dataclasses.replace(self._config, **{**updates, **fixed})

    def set_value(self, config: Any) -> None:
        """Show the values of ``config`` (same dataclass type)."""
        self._config = config
        for name, editor in self.editors.items():
            self._show(name, editor, getattr(config, name))
        self.changed.emit()


def align_forms(*forms: ConfigForm) -> None:
    """Give the label columns of forms shown one above the other the same width."""
    width = max(form.label_width() for form in forms)
    for form in forms:
        form.set_label_width(width)
