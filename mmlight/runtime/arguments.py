"""The command-line arguments every runtime tool takes: the model file, the images, the
precision (``python -m mmlight.runtime``, tools/analysis/benchmark_runtime.py)."""

from __future__ import annotations

import argparse


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``model``, ``images`` and ``--precision`` to a tool's parser.

    Args:
        parser: the tool's parser.
    """
    parser.add_argument('model', help='the exported model file (.onnx or .xml)')
    parser.add_argument('images', nargs='+', help='image files and folders of images')
    parser.add_argument(
        '--precision',
        help="the runtime's precision (OpenVINO: fp32, bf16, int8; default: the model's own)",
    )
