"""Outputs for people: maps, plots and (later) reports."""
