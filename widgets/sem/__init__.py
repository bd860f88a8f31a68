"""The sem workspace: SEM micrograph segmentation, max-vote objects and their review."""
