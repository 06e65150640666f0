"""The README's examples run as written (issue 20): every ```python block against the fakes, the
pytest example with the configuration the README shows, and — from the built wheel in a scratch
virtualenv with ``interlingua[testing]`` — the same example again, as a new user would run it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from interlingua.fakes.pytest_plugin import FakeLlm

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


def blocks(lang: str) -> list[str]:
    return [body for fence, body in _FENCE.findall(README) if fence == lang]


def _pytest_example() -> tuple[str, str, str]:
    """(file name, test module, pytest configuration) of the README's pytest example."""
    tests = [b for b in blocks("python") if b.startswith("# test_")]
    assert len(tests) == 1, "the README has one pytest example, a block starting with '# test_<name>.py'"
    name = tests[0].split()[1]
    configs = [b for b in blocks("toml") if "[tool.pytest.ini_options]" in b]
    assert len(configs) == 1, "the README shows the pytest configuration the example needs"
    return name, tests[0], configs[0]


SCRIPTS = [b for b in blocks("python") if not b.startswith("# test_")]


def _env(extra: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not re.match(r"^(OPENAI|ANTHROPIC|GEMINI|GOOGLE|OLLAMA|AZURE|XAI|DMR|AWS)_", k)}
    return {**keep, "PYTHONDONTWRITEBYTECODE": "1", **extra}


@pytest.mark.parametrize("code", SCRIPTS, ids=[f"block{i}" for i in range(len(SCRIPTS))])
def test_python_block_runs_as_written(code: str, fake_llm_sync: FakeLlm, tmp_path: Path) -> None:
    """Each Python block is a complete program: it runs against the fakes (their env vars) and exits 0."""
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env=_env(fake_llm_sync.env()))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert not run.stdout or run.stdout.endswith("\n"), "the output ends with a newline"


def test_pytest_example_runs_with_the_configuration_shown(tmp_path: Path) -> None:
    """The pytest example passes in an empty project with exactly the configuration the README shows."""
    name, module, config = _pytest_example()
    (tmp_path / name).write_text(module, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(config, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, env=_env({}))
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"\b\d+ passed\b", run.stdout) and "failed" not in run.stdout


def test_the_plugin_costs_nothing_in_unrelated_test_runs(tmp_path: Path) -> None:
    """pytest loads the plugin everywhere; a run that uses no fixture imports neither the fakes nor tiktoken."""
    (tmp_path / "test_other.py").write_text(
        "import sys\n"
        "def test_other():\n"
        "    loaded = [m for m in ('interlingua.fakes._server', 'interlingua.fakes.openai', 'tiktoken') if m in sys.modules]\n"
        "    assert not loaded, loaded\n",
        encoding="utf-8",
    )
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_other.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120, env=_env({}))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "interlingua" in subprocess.run([sys.executable, "-m", "pytest", "--trace-config", "-q", "--co"],
                                           cwd=tmp_path, capture_output=True, text=True, timeout=120).stdout


@pytest.mark.slow
def test_pytest_example_from_the_built_wheel(tmp_path: Path) -> None:
    """A new user's path: build the wheel, install it with [testing] into a fresh virtualenv, copy the
    README's pytest example and configuration verbatim, run pytest there."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist),
                    str(ROOT)], check=True, capture_output=True, timeout=600)
    (wheel,) = dist.glob("interlingua-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              f"{wheel}[testing]"], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    project = tmp_path / "project"
    project.mkdir()
    name, module, config = _pytest_example()
    (project / name).write_text(module, encoding="utf-8")
    (project / "pyproject.toml").write_text(config, encoding="utf-8")
    run = subprocess.run([str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", name], cwd=project,
                         capture_output=True, text=True, timeout=300, env=_env({}))
    assert run.returncode == 0, run.stdout + run.stderr
