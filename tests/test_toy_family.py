"""A backbone family is one record: a toy family declared in one test file (tests/toy_family.py)
appears in the backbone contract suite, convert.py's choices, the weights table, the metafiles
and model-index.yml and the model zoo's family section, with no other file edited."""

import subprocess
import sys

from tests.helpers import ROOT

IN_A_PROCESS_WITH_THE_TOY = r'''
import runpy, sys
import torch
import tests.toy_family as toy
from mmlight.analysis.model_index import family_section, metafiles
from mmlight.converters import infer_backbone, convert_state_dict
from mmlight.weights import WEIGHTS

assert WEIGHTS['toynet_tiny'].family == 'toynet'
files = metafiles(sys.argv[1])
assert 'configs/metafiles/toynet.yml' in files, sorted(files)
assert 'Name: ToyNet' in files['configs/metafiles/toynet.yml']
assert '- configs/metafiles/toynet.yml' in files['model-index.yml']
assert '**ToyNet** ([paper](https://example.org/toynet)): A toy' in family_section()

# its converter: a file in the toy's own layout, converted, is the small variant's
official = {
    ('stem_conv.' + k[len('stem.'):] if k.startswith('stem.') else
     'body.' + k[len('stages.'):].replace('.0.', '.', 1)): v
    for k, v in toy.ToyNet(arch='small').state_dict().items()
}
official['head.fc.weight'] = torch.zeros(10, 64)
converted = convert_state_dict('toynet', official)
assert infer_backbone('toynet', converted) == dict(type='ToyNet', arch='small')

sys.argv = ['convert.py', '--help']
runpy.run_path('tools/model_converters/convert.py', run_name='__main__')
'''


def test_a_toy_family_from_one_test_file_is_in_every_table():
    proc = subprocess.run(
        [sys.executable, '-c', IN_A_PROCESS_WITH_THE_TOY, ROOT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    # convert.py's choices are the families with a converter, the toy's among them
    assert 'toynet' in proc.stdout.split('checkpoint family')[0], proc.stdout


def contract_suite(*args):
    return subprocess.run(
        [
            sys.executable,
            '-m',
            'pytest',
            'tests/test_backbone_contract.py',
            '-p',
            'tests.toy_family',
            '-p',
            'no:cacheprovider',
            '-q',
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_toy_family_runs_the_backbone_contract_suite():
    collected = contract_suite('--collect-only')
    assert collected.returncode == 0, collected.stdout[-4000:] + collected.stderr[-2000:]
    ids = collected.stdout.splitlines()
    toy = [i for i in ids if 'ToyNet' in i]
    # the toy is one more parameter of every contract test that a real family's type has
    assert len(toy) == len([i for i in ids if 'GhostNetV2' in i]) > 0, ids
    proc = contract_suite('-k', 'ToyNet or every_registered')
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert f'{len(toy) + 1} passed' in summary, summary
