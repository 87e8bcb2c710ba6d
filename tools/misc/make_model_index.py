"""Write OpenMMLab's model metadata (model-index.yml and configs/metafiles/FAMILY.yml, read by
mim) from docs/model_zoo.md and the configs; ``--check`` writes nothing and exits 1 where a
file in the tree differs from what would be written.

    python tools/misc/make_model_index.py [--check]
"""

import argparse
import os.path as osp
import sys

import mmlight.registration  # noqa: F401
from mmlight.analysis.model_index import metafiles

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('--check', action='store_true', help='compare only, write nothing')
    args = parser.parse_args()
    stale = []
    for path, text in metafiles(ROOT).items():
        full = osp.join(ROOT, path)
        current = open(full).read() if osp.isfile(full) else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            with open(full, 'w') as f:
                f.write(text)
    verb = 'out of date' if args.check else 'written'
    print('\n'.join(f'{verb}: {path}' for path in stale) or 'all files are current')
    if args.check and stale:
        sys.exit(1)


if __name__ == '__main__':
    main()
