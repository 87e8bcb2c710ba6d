"""Downloads into torch's hub cache that never leave a partial or wrong file behind."""

import hashlib
import http.client
import os
import os.path as osp
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import torch


class DownloadError(RuntimeError):
    """A download failed, or gave a file of the wrong size or sha256 (nothing was cached)."""


def hub_checkpoint_dir() -> str:
    """Where torch.hub keeps downloaded checkpoints (``$TORCH_HOME/hub/checkpoints``)."""
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def file_sha256(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            sha.update(chunk)
    return sha.hexdigest()


def check_sha256(path: str, expected: str | None, what: str):
    """``expected`` may be the whole digest or the prefix a source publishes in file names."""
    if not expected:
        return
    actual = file_sha256(path)
    if not actual.startswith(expected.lower()):
        raise DownloadError(
            f'{what}: sha256 {actual} does not match the expected '
            f'{expected}{"..." if len(expected) < 64 else ""}'
        )


def _progress(total: int | None, name: str):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(
        total=total, unit='B', unit_scale=True, unit_divisor=1024, desc=name, file=sys.stderr
    )


def download_file(
    url: str, dst: str, sha256: str | None = None, progress: bool = True, timeout: float = 60.0
):
    """Download ``url`` to ``dst`` atomically: into a temporary file beside it, checked against
    the announced size and ``sha256``, then renamed. On any failure the temporary file is
    removed and :class:`DownloadError` says what went wrong."""
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=osp.basename(dst) + '.', suffix='.part', dir=osp.dirname(osp.abspath(dst))
    )
    try:
        with os.fdopen(fd, 'wb') as out:
            try:
                request = urllib.request.Request(url, headers={'User-Agent': 'mmlight'})
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    length = response.headers.get('Content-Length')
                    total = int(length) if length is not None else None
                    bar = _progress(total, osp.basename(dst)) if progress else None
                    received = 0
                    while True:
                        chunk = response.read(1 << 20)
                        if not chunk:
                            break
                        out.write(chunk)
                        received += len(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
                    if bar is not None:
                        bar.close()
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
                raise DownloadError(f'downloading {url} failed: {err}') from None
        if total is not None and received != total:
            raise DownloadError(
                f'downloading {url} gave {received} bytes, the server announced '
                f'{total}: the download was cut short'
            )
        check_sha256(tmp, sha256, f'the file downloaded from {url}')
        os.replace(tmp, dst)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return dst


def cached_download(
    url: str, sha256: str | None = None, filename: str | None = None, cache_dir: str | None = None
) -> str:
    """The local copy of ``url`` in torch's hub cache, downloaded the first time."""
    name = filename or osp.basename(urllib.parse.urlparse(url).path)
    if not name:
        raise DownloadError(f'cannot tell a file name from the URL {url!r}')
    dst = osp.join(cache_dir or hub_checkpoint_dir(), name)
    if not osp.isfile(dst):
        download_file(url, dst, sha256=sha256)
    return dst
