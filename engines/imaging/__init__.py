"""Imaging pieces shared by sem, soil and nodules: volumes, their readers and writers, tiling."""
