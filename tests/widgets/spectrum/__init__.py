"""Tests of the spectrum workspace widgets."""
