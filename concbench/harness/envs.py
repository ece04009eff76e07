"""Virtual environments made by concbench for `ab` (and `run --python`): one per interpreter x requirement set x
suite tree, created once and cached; the suite itself is installed into each (not found through PYTHONPATH).

It owns the cache key, identifying an interpreter, creating the venv, installing tree and requirements with pip,
and the stamp that marks a finished install. It never measures.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

STAMP = "concbench-env.json"
KEEP = 8                 # environments kept in the cache (the most recently used); each is ~300 MB with numpy
INSTALL_TIMEOUT_S = 1800.0
IDENTIFY = ("import json, platform, sys, sysconfig; print(json.dumps({'version': platform.python_version(), "
            "'implementation': platform.python_implementation(), 'executable': sys.executable, "
            "'base_executable': getattr(sys, '_base_executable', sys.executable), "
            "'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED'))}))")


class EnvFailed(Exception):
    """An interpreter that cannot be run, or an environment that cannot be made; one line for the user."""


def cache_dir() -> Path:
    return Path(os.environ.get("CONCBENCH_ENV_CACHE") or Path.home() / ".cache" / "concbench" / "envs")


def identify(python: str) -> dict:
    """What an interpreter is (version, implementation, real path, free-threaded); EnvFailed if it cannot run."""
    path = shutil.which(python) or (python if os.path.exists(python) else None)
    if not path:
        raise EnvFailed(f"interpreter {python!r} not found")
    try:
        done = subprocess.run([path, "-c", IDENTIFY], capture_output=True, text=True, timeout=60)
        identity = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        raise EnvFailed(f"interpreter {python!r} cannot be run") from None
    identity["real_path"] = os.path.realpath(identity["base_executable"])
    return identity


@dataclass(frozen=True)
class EnvSpec:
    """One side of a comparison: an interpreter, extra requirements (pip specifiers), the suite's code."""
    python: str
    requirements: tuple[str, ...]
    tree: Path              # an exported revision of this repository (what is installed as the suite)
    tree_id: str            # its commit: the same id means the same suite code

    def key(self, identity: dict) -> str:
        text = json.dumps({"python": identity["real_path"], "version": identity["version"],
                           "implementation": identity["implementation"], "requirements": sorted(self.requirements),
                           "tree": self.tree_id}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def describe(self, identity: dict) -> str:
        reqs = " ".join(self.requirements) or "the suite's own requirements"
        ft = ", free-threaded" if identity.get("free_threaded") else ""
        return f"{identity['implementation']} {identity['version']}{ft} ({identity['real_path']}), {reqs}, " \
               f"suite {self.tree_id[:12]}"


def env_python(env: Path) -> Path:
    return env / "bin" / "python"


def run_pip_install(python: Path, tree: Path, requirements: tuple[str, ...], log: Path) -> None:
    """pip install the tree (not editable) and the requirements in one resolution; EnvFailed with pip's last line."""
    with open(log, "ab") as log_file:
        done = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
                               str(tree), *requirements], stdout=log_file, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, timeout=INSTALL_TIMEOUT_S)
    if done.returncode != 0:
        lines = [line for line in done.stderr.decode(errors="replace").splitlines()
                 if line.strip() and not line.startswith("WARNING")]
        raise EnvFailed(f"pip install failed: {lines[-1] if lines else f'exit {done.returncode}'}")


def ensure(spec: EnvSpec, log: Path, installer=run_pip_install) -> tuple[Path, dict, bool]:
    """(environment folder, interpreter identity, made now?): the cached environment of spec, made if missing.
    A half-made environment (no stamp) is never reused: it is made again."""
    identity = identify(spec.python)
    env = cache_dir() / spec.key(identity)
    stamp = env / STAMP
    if stamp.exists():
        os.utime(stamp)                  # recently used: kept by prune()
        return env, identity, False
    env.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{env.name}-", dir=env.parent))
    try:
        done = subprocess.run([identity["real_path"], "-m", "venv", str(building)], capture_output=True, text=True,
                              timeout=300)
        if done.returncode != 0:
            raise EnvFailed(f"{spec.python} -m venv failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        installer(env_python(building), spec.tree, spec.requirements, log)
        (building / STAMP).write_text(json.dumps({"python": spec.python, "identity": identity,
                                                  "requirements": list(spec.requirements),
                                                  "tree": spec.tree_id}, indent=1) + "\n")
        if env.exists():            # another concbench made it meanwhile, or a stale half-made one
            shutil.rmtree(env)
        building.rename(env)
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    prune(keep=KEEP)
    return env, identity, True


def prune(keep: int = KEEP) -> list[Path]:
    """Remove finished environments beyond the `keep` most recently used; returns those removed."""
    finished = sorted((p for p in cache_dir().iterdir() if (p / STAMP).exists()),
                      key=lambda p: (p / STAMP).stat().st_mtime, reverse=True)
    for old in finished[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return finished[keep:]
