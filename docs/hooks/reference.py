"""Builds the generated parts of the manual: every tool's arguments on tools.md come from the
tool's own argparse (its ``--help``) or, for a shell script, from its header comment, so the
page cannot drift from the code. A tool under tools/ that tools.md does not place is an error.
"""

import contextlib
import glob
import io
import os
import os.path as osp
import re
import runpy
import sys

from mkdocs.exceptions import PluginError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MARKER = re.compile(r'<!-- usage: (\S+) -->')
TOOLS_PAGE = 'tools.md'
_cache: dict[str, str] = {}


def tool_files() -> list[str]:
    """Every command line under tools/, relative to the repository root."""
    found = glob.glob(osp.join(ROOT, 'tools', '**', '*.py'), recursive=True)
    found += glob.glob(osp.join(ROOT, 'tools', '*.sh'))
    return sorted(osp.relpath(path, ROOT) for path in found)


def script_usage(path: str) -> str:
    """The header comment of a shell script (its usage lines), without the shebang."""
    lines = []
    with open(osp.join(ROOT, path)) as f:
        for line in f.read().splitlines()[1:]:
            if not line.startswith('#'):
                break
            lines.append(line[1:].removeprefix(' '))
    return '\n'.join(lines)


def python_help(path: str) -> str:
    """What ``python PATH --help`` prints, run in this process (the imports are shared)."""
    out = io.StringIO()
    argv, cwd = sys.argv, os.getcwd()
    environ_columns = os.environ.get('COLUMNS')
    os.environ['COLUMNS'] = '100'  # argparse wraps to this width
    sys.argv = [path, '--help']
    try:
        os.chdir(ROOT)
        # stderr: notes a tool prints when it starts (a deprecated tool names its successor,
        # which its --help says too), not part of the page
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(io.StringIO()),
            contextlib.suppress(SystemExit),
        ):
            if path.startswith('mmlight/'):  # a package's __main__: python -m PACKAGE
                runpy.run_module(osp.dirname(path).replace('/', '.'), run_name='__main__')
            else:
                runpy.run_path(osp.join(ROOT, path), run_name='__main__')
    finally:
        sys.argv = argv
        os.chdir(cwd)
        if environ_columns is None:
            os.environ.pop('COLUMNS')
        else:
            os.environ['COLUMNS'] = environ_columns
    text = out.getvalue().strip()
    if not text.startswith('usage:'):
        raise PluginError(f'{path} --help printed no argparse usage; it printed: {text[:300]!r}')
    return text


def usage(path: str) -> str:
    if path not in _cache:
        if not osp.isfile(osp.join(ROOT, path)):
            raise PluginError(f'{TOOLS_PAGE} names {path}, which is not a file')
        _cache[path] = script_usage(path) if path.endswith('.sh') else python_help(path)
    return _cache[path]


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri != TOOLS_PAGE:
        return markdown
    placed = MARKER.findall(markdown)
    missing = sorted(set(tool_files()) - set(placed))
    if missing:
        raise PluginError(f'{TOOLS_PAGE} has no "<!-- usage: PATH -->" for {missing}')
    return MARKER.sub(lambda m: f'```text\n{usage(m.group(1))}\n```', markdown)
