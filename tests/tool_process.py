"""Running a tools/ script in a fresh process forked from a server that has imported the
training stack once (multiprocessing's forkserver with preloaded modules): the tool starts in
a fraction of a second instead of the 8-10 s its imports take, and still runs in a process of
its own (its own registries, loggers, exit code, stdout and stderr).

Only third-party packages are preloaded: mmlight is imported by the tool itself, so a config
that forgets ``custom_imports`` fails as it does for a user. This module imports nothing but
the standard library at its top, because the server imports it to start every tool.
"""

import multiprocessing
import os
import runpy
import subprocess
import sys
import tempfile
import traceback

# what every tool imports before it does anything (about 8 s of its start on a small CPU)
PRELOAD = [
    'numpy',
    'cv2',
    'torch',
    'torchvision',
    'mmcv',
    'mmengine.runner',
    'mmdet.apis',
    'mmdet.models',
    'mmdet.evaluation',
    'onnx',
    'onnxruntime',
]

_context = None


def _forkserver():
    global _context
    if _context is None:
        _context = multiprocessing.get_context('forkserver')
        _context.set_forkserver_preload(PRELOAD)
    return _context


def _run_tool(root, script, argv, environ, stdout_path, stderr_path):
    """The child: the script as ``python SCRIPT ARGV...`` runs it from ``root``, its output to
    the two files (file descriptors 1 and 2, so that what C code prints is in them too)."""
    for fd, path in ((1, stdout_path), (2, stderr_path)):
        with open(path, 'wb') as f:
            os.dup2(f.fileno(), fd)
    sys.stdout = open(1, 'w', buffering=1, closefd=False)
    sys.stderr = open(2, 'w', buffering=1, closefd=False)
    # multiprocessing as ``python SCRIPT`` has it: the default start method (a forkserver
    # child inherits 'forkserver') and no parent process
    multiprocessing.set_start_method(None, force=True)
    multiprocessing.process._parent_process = None
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(root)
    # as the interpreter sets it for a script: its folder first, then PYTHONPATH
    sys.path[:0] = [os.path.dirname(os.path.abspath(script))] + [
        p for p in environ.get('PYTHONPATH', '').split(os.pathsep) if p
    ]
    sys.argv = [script, *argv]
    code = 0
    try:
        runpy.run_path(script, run_name='__main__')
    except SystemExit as exit:
        if exit.code is None:
            code = 0
        elif isinstance(exit.code, int):
            code = exit.code
        else:
            print(exit.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_forked(root, args, environ, timeout):
    """``python ARGS`` (a script and its arguments) as :func:`subprocess.run` with
    ``capture_output=True, text=True`` runs it, from a process forked from the server."""
    script, *argv = args
    with tempfile.TemporaryDirectory() as tmp:
        out, err = os.path.join(tmp, 'stdout'), os.path.join(tmp, 'stderr')
        process = _forkserver().Process(
            target=_run_tool, args=(root, script, argv, environ, out, err)
        )
        process.start()
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired([sys.executable, *args], timeout)
        with open(out, errors='replace') as f_out, open(err, errors='replace') as f_err:
            stdout, stderr = f_out.read(), f_err.read()
    return subprocess.CompletedProcess([sys.executable, *args], process.exitcode, stdout, stderr)
