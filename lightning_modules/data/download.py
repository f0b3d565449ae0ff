"""Fetching dataset files: the cache folder, HTTP downloads with an MD5 check, and Debian packages unpacked
without root (``apt-get download`` + ``dpkg -x``). Only ``LightningDataModule.prepare_data`` calls these."""
import hashlib
import os
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

CACHE_ENV = "BREVITAS_ABC_DATA"


def cache_root() -> Path:
    """The folder where downloaded datasets are kept: ``$BREVITAS_ABC_DATA`` or ``~/.cache/brevitas_abc``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "brevitas_abc")


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_url(url: str, destination: Path, md5: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``destination`` (atomically), unless a file with the right MD5 is already there.

    Raises:
        ValueError: the downloaded file's MD5 is not ``md5``.
    """
    destination = Path(destination)
    if destination.exists() and (md5 is None or md5sum(destination) == md5):
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False) as tmp:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, tmp)
    if md5 is not None and md5sum(Path(tmp.name)) != md5:
        os.unlink(tmp.name)
        raise ValueError(f"download of {url} has the wrong MD5 (expected {md5})")
    os.replace(tmp.name, destination)
    return destination


def unpack_debian_package(package: str, destination: Path) -> Path:
    """``apt-get download <package>`` then ``dpkg -x`` into ``destination``; no root needed.

    Returns ``destination`` (the package's ``/usr/...`` tree lies under it).
    Raises:
        RuntimeError: apt-get or dpkg is missing or failed; the message has their output.
    """
    destination = Path(destination)
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed, so the Debian package {package!r} cannot be fetched")
    with tempfile.TemporaryDirectory() as work:
        run = subprocess.run(["apt-get", "download", package], cwd=work, capture_output=True, text=True)
        debs = list(Path(work).glob("*.deb"))
        if run.returncode != 0 or not debs:
            raise RuntimeError(f"apt-get download {package} failed: {run.stderr.strip()[-500:]}")
        destination.mkdir(parents=True, exist_ok=True)
        run = subprocess.run(["dpkg", "-x", str(debs[0]), str(destination)], capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"dpkg -x {debs[0].name} failed: {run.stderr.strip()[-500:]}")
    return destination
