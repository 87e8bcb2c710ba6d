"""Write what is generated from the family records, docs/model_zoo.md, the configs and the
benchmark file: OpenMMLab's model metadata (model-index.yml and configs/metafiles/FAMILY.yml,
read by mim), the model zoo's published AP column and family section (from the family records),
and the model zoo's input and latency columns and the lead table of docs/benchmarks.md, both
from docs/zoo_benchmark.json (tools/analysis/benchmark_inference.py rows, each config at its own
input size). ``--check`` writes nothing and exits 1 where a file in the tree differs from what
would be written.

    python tools/misc/make_model_index.py [--check]
"""

import argparse
import os.path as osp
import sys

import mmlight.registration  # noqa: F401
from mmlight.analysis.model_index import ZOO_PAGE, metafiles, zoo_family_parts
from mmlight.analysis.runtimes import REFERENCES
from mmlight.analysis.zoo_benchmark import generated_pages
from mmlight.apis import config_names

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('--check', action='store_true', help='compare only, write nothing')
    args = parser.parse_args()
    benchmarked = [*REFERENCES, *(name for name in config_names() if '/' not in name)]
    # the pages first: the metafiles are read from the model zoo page
    files = generated_pages(ROOT, benchmarked)
    # the model zoo's published AP column and family section, from the family records
    files[ZOO_PAGE] = zoo_family_parts(files[ZOO_PAGE])
    stale = []
    for path, text in files.items():
        if _differs(path, text):
            stale.append(path)
            if not args.check:
                with open(osp.join(ROOT, path), 'w') as f:
                    f.write(text)
    for path, text in metafiles(ROOT).items():
        if _differs(path, text):
            stale.append(path)
            if not args.check:
                with open(osp.join(ROOT, path), 'w') as f:
                    f.write(text)
    verb = 'out of date' if args.check else 'written'
    print('\n'.join(f'{verb}: {path}' for path in stale) or 'all files are current')
    if args.check and stale:
        sys.exit(1)


def _differs(path, text):
    full = osp.join(ROOT, path)
    return not osp.isfile(full) or open(full).read() != text


if __name__ == '__main__':
    main()
