"""Evaluation outputs: metrics, the metric files and plots, the model card."""
