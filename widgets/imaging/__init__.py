"""Imaging widgets shared by the sem, soil and nodules workspaces."""
