"""Evaluation: metrics, baselines, protocols on real data, and report plots."""
