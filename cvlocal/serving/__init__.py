"""Serving predictions: the published-model cache and predictor, and the classify hot path."""
