"""Helpers for the grading tests: a tiny real nbgrader course built from one description."""
