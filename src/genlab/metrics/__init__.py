"""Metrics: likelihoods now; sample-quality metrics join here."""
