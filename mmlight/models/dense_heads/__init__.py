from .yolov4_head import YOLOv4Head

__all__ = ['YOLOv4Head']
