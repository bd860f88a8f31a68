"""COMET CDC workspace: event display, model view, threshold, browser, curves, training."""
