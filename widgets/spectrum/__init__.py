"""Spectrum (PGNAA) workspace: plot, CAM, library, results, training, evaluation, live."""
