"""Deprecated name of tools/deployment/evaluate.py (the same arguments); removed in the next
release."""

import os.path as osp
import runpy
import sys

if __name__ == '__main__':
    new = osp.join(osp.dirname(osp.abspath(__file__)), 'evaluate.py')
    print(
        'tools/deployment/test_onnx.py is deprecated: use tools/deployment/evaluate.py',
        file=sys.stderr,
    )
    sys.argv[0] = new
    runpy.run_path(new, run_name='__main__')
