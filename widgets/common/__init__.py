"""Reusable Qt views shared by every workspace."""
