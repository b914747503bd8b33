"""deploy/Dockerfile and .dockerignore, read as Docker reads them.

Docker is not on the test machine, so the image is not built here; these checks hold the file to
its promises: multi-stage (UI, wheels, runtime), non-root at the end, a health check without curl,
nothing fetched except from the package registries (apt, PyPI, npm), no secret and no chain inside.
"""

from __future__ import annotations

import json
import re
import shlex
from fnmatch import fnmatchcase
from pathlib import PurePosixPath

import pytest
from deploy_support import DEPLOY, REPO, serve_args

Instruction = tuple[str, str]  # (KEYWORD, arguments)
ALLOWED_BASES = ("python:3.11-slim", "node:20-")
SECRET_NAME = re.compile("PASSWORD|SECRET|KEY|TOKEN|PASSPHRASE", re.IGNORECASE)


def instructions() -> list[Instruction]:
    joined: list[str] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    assert not pending, "a continuation runs off the end of the file"
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined]


def stages() -> dict[str, list[Instruction]]:
    """Instructions by stage name (every stage is named)."""
    found: dict[str, list[Instruction]] = {}
    current: list[Instruction] = []
    for keyword, args in instructions():
        if keyword == "FROM":
            image, _, name = args.partition(" AS ")
            assert name, f"unnamed stage {image}"
            current = found.setdefault(name.strip(), [("FROM", image.strip())])
        else:
            current.append((keyword, args))
    return found


STAGES = stages()
FINAL = list(STAGES.values())[-1]


def args_of(stage: list[Instruction], keyword: str) -> list[str]:
    return [args for kw, args in stage if kw == keyword]


def test_it_is_multi_stage_from_official_base_images() -> None:
    assert list(STAGES) == ["ui", "build", "runtime"]
    for stage in STAGES.values():
        assert stage[0][1].startswith(ALLOWED_BASES), stage[0]
    assert FINAL[0][1].startswith("python:3.11-slim")


def test_the_ui_and_the_wheels_are_built_in_their_own_stages() -> None:
    ui = " ".join(args_of(STAGES["ui"], "RUN"))
    assert "npm ci" in ui
    assert "npm run build" in ui
    build = " ".join(args_of(STAGES["build"], "RUN"))
    assert "gcc" in build  # setup.py compiles the hot modules with mypyc
    assert "pip wheel" in build
    runtime = " ".join(args_of(FINAL, "RUN"))
    assert "--no-index" in runtime  # the runtime installs only the wheels built above
    assert "gcc" not in runtime
    for copy in args_of(FINAL, "COPY"):
        source = re.search(r"--from=(\S+)", copy)
        assert source, f"the runtime copies only from the build stages: {copy}"
        assert source[1] in STAGES
    assert any("/grekko/static" in c for c in args_of(FINAL, "COPY"))  # the gateway serves it


def test_it_ends_as_the_unprivileged_user() -> None:
    keywords = [kw for kw, _ in FINAL]
    last_user = len(keywords) - 1 - keywords[::-1].index("USER")
    uid = args_of(FINAL, "USER")[-1].split(":")[0]
    assert uid == "10001"
    assert not {"RUN", "COPY", "ADD", "USER"} & set(keywords[last_user + 1 :])
    assert "useradd --system --uid 10001" in " ".join(args_of(FINAL, "RUN"))


def test_it_checks_its_health_and_runs_grekko() -> None:
    (check,) = args_of(FINAL, "HEALTHCHECK")
    exec_form = json.loads(check[check.index("CMD") + 3 :])
    assert exec_form[0] == "python"  # no curl in the slim image
    assert "http://127.0.0.1:8000/health" in exec_form[-1]
    assert json.loads(args_of(FINAL, "ENTRYPOINT")[-1]) == ["grekko"]
    assert json.loads(args_of(FINAL, "CMD")[-1]) == serve_args("gateway")
    exposed = {int(p) for args in args_of(FINAL, "EXPOSE") for p in args.split()}
    assert exposed == {8000, 8001, 8002, 8003, 8004}


def test_nothing_is_fetched_except_from_package_registries() -> None:
    for keyword, args in instructions():
        assert keyword != "ADD", "ADD can fetch URLs and unpack archives: COPY only"
        if keyword != "RUN":
            continue
        words = set(shlex.split(args.replace("&&", " ").replace("||", " ")))
        assert not words & {"curl", "wget", "git", "sh", "bash"}, args
        assert not re.search(r"https?://", args), args
        assert not re.search(r"\|\s*(sh|bash)\b", args), args
    fetches = [
        a for kw, a in instructions() if kw == "RUN" and re.search(r"apt-get install|pip|npm", a)
    ]
    assert fetches


def test_no_secret_and_no_chain_are_baked_in() -> None:
    for keyword, args in instructions():
        if keyword in {"ENV", "ARG"}:
            assert not SECRET_NAME.search(args), args
        if keyword == "COPY":
            assert not re.search(r"\b(chain|contracts|interop)/", args), args
    assert "GREKKO_CHAIN__ENABLED=false" in " ".join(args_of(FINAL, "ENV"))


# ---- .dockerignore -------------------------------------------------------------------------------
def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.lstrip("!").rstrip("/")
        if any(fnmatchcase(c, glob) for c in candidates):
            verdict = not negate
    return verdict


PATTERNS = [
    line.strip()
    for line in (REPO / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]


def _copied_sources() -> list[str]:
    sources = []
    for keyword, args in instructions():
        if keyword == "COPY" and "--from=" not in args:
            sources.extend(args.split()[:-1])
    return sources


def test_the_build_context_holds_every_copied_source() -> None:
    sources = _copied_sources()
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not _ignored(source.rstrip("/"), PATTERNS), source
    for kept in ("src/grekko/cli.py", "ui/src/main.ts", "ui/package-lock.json", "README.md"):
        assert not _ignored(kept, PATTERNS), kept


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        "ui/node_modules/vite/package.json",
        "src/grekko/static/index.html",
        "src/grekko/core/ids.cpython-311-x86_64-linux-gnu.so",
        "src/grekko/__pycache__/cli.cpython-311.pyc",
        "chain/package.json",
        "tests/conftest.py",
        "deploy/.env",
        "build/lib/grekko/cli.py",
    ],
)
def test_the_build_context_leaves_out_local_state(path: str) -> None:
    assert _ignored(path, PATTERNS)
