"""PGNAA spectrum classification engine (Cheng et al.): readers, RSM, models, CAM, evaluation."""
