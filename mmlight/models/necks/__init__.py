from .yolov4_neck import SPP, YOLOv4Neck

__all__ = ['SPP', 'YOLOv4Neck']
