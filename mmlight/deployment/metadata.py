"""What an exported model file says about itself: everything inference needs besides the graph,
as JSON in the .onnx's ``metadata_props`` (key ``mmlight``) and the OpenVINO IR's ``rt_info``
(``mmlight/deploy``), so that :mod:`mmlight.runtime` runs it without the config.

Written from the config by :func:`mmlight.deployment.export.deploy_metadata` when the graph is
exported; read by :func:`parse_metadata` (json only: the runtime imports this module).
"""

import json
from typing import Any

METADATA_KEY = 'mmlight'
FORMAT = 1
# how to re-export a file without metadata, for the error that meets one
REEXPORT = (
    'export it again with tools/deployment/export_onnx.py (mmlight >= 0.3 writes the '
    'preprocessing, classes and input size into every model file)'
)


# the test-pipeline steps mmlight.runtime repeats (decoding, resizing, padding) or that do
# nothing to the image (annotations, packing)
RUNTIME_STEPS = ('LoadImageFromFile', 'Resize', 'Pad', 'LoadAnnotations', 'PackDetInputs')


class MissingMetadataError(ValueError):
    """A model file without mmlight's metadata (an export of an older mmlight, or another
    tool's)."""


def dumps(metadata: dict[str, Any]) -> str:
    return json.dumps(metadata, sort_keys=True)


def parse_metadata(text: str | None, path: str) -> dict[str, Any]:
    """The metadata a model file holds.

    Args:
        text: the JSON the file holds under ``mmlight`` (None: it holds none).
        path: the file, for the errors.

    Returns:
        The metadata dict.

    Raises:
        MissingMetadataError: the file holds none, naming how to re-export it.
        ValueError: it is of a format this mmlight does not read.
    """
    if not text:
        raise MissingMetadataError(f'{path} holds no mmlight metadata: {REEXPORT}')
    metadata = json.loads(text)
    if metadata.get('format') != FORMAT:
        raise ValueError(
            f'{path}: metadata format {metadata.get("format")!r}, this mmlight '
            f'reads format {FORMAT}: {REEXPORT}'
        )
    return metadata
