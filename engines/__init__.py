"""Headless analysis engines: no Qt, no pyqtgraph, no VTK (DESIGN.md rule 1)."""
