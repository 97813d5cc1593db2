"""Project automation: ``nox`` runs lint, typing, tests and docs; ``nox -s bench`` benchmarks."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typing", "tests", "docs"]
nox.options.reuse_existing_virtualenvs = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHON = "3.11"


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff: lint (with the ASYNC rules) and formatting."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typing(session: nox.Session) -> None:
    """mypy --strict over the package, the tests and the benchmarks."""
    session.install(".[testing]", *nox.project.dependency_groups(PYPROJECT, "typing"))
    session.run("mypy")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite against the installed package, with branch coverage.

    Real-fault tests need root, ``unshare`` and ``nft``; elsewhere they skip and say why.
    """
    session.install(".[testing]", *nox.project.dependency_groups(PYPROJECT, "test"))
    session.run("coverage", "run", "-m", "pytest", "-p", "no:cacheprovider", *session.posargs)
    session.run("coverage", "report", "--skip-covered", "--show-missing", "--fail-under=75")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """The documentation site (MkDocs, Material, mkdocstrings), built with --strict into site/.

    Any warning fails it: a broken link, a page missing from the nav, a docstring that does not
    parse. ``nox -s docs -- serve`` serves it with live reload instead.
    """
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "docs"))
    quiet = {"NO_MKDOCS_2_WARNING": "1"}  # Material's banner about its successor
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", *session.posargs[1:], env=quiet)
        return
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", env=quiet)


@nox.session(python=PYTHON, default=False)
def soak(session: nox.Session) -> None:
    """Soak tests: an hour of flapping under the autojump clock, 1,000 real reconnects."""
    session.install(".[testing]", *nox.project.dependency_groups(PYPROJECT, "test"))
    session.run(
        "pytest",
        "-p",
        "no:cacheprovider",
        "tests/test_soak.py",
        "-v",
        "-s",
        env={"BRAYNS_TRIO_SOAK": "1"},
    )


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks against baselines measured in the same run; writes a markdown table."""
    session.install(".[testing]", *nox.project.dependency_groups(PYPROJECT, "bench"))
    session.run("python", "benchmarks/run.py", *session.posargs)
    session.run("python", "benchmarks/pool.py", "--output", "benchmarks/results/pool.md")
