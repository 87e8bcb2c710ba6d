"""Evaluation metrics (registered in mmdet's METRICS)."""

from .fast_coco_metric import FastCocoMetric

__all__ = ['FastCocoMetric']
