"""Pictures of what a detector finds."""

from .prediction_grid import prediction_grid

__all__ = ['prediction_grid']
