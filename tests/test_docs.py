"""The documentation builds with ``mkdocs build --strict``, offline, and its code runs.

A reference to something that does not exist (an API name, a page, an anchor of the nav,
a snippet file, a README section) fails the build, so it fails here. The python blocks of
docs/ and README.md are executed (or, where they are an example file, run by
tests/test_examples.py), so a renamed API breaks a test, not a reader.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
SNIPPET = re.compile(r'^--8<-- "([^"]+)"$')
# Nothing may be fetched at build time: any HTTP(S) client that tries goes to a dead port.
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "NO_PROXY": "", "no_proxy": "", "NO_MKDOCS_2_WARNING": "1"}  # fmt: skip


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=ROOT, env={**os.environ, **OFFLINE}, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = _build(ROOT / "mkdocs.yml", out)
    assert result.returncode == 0, result.stderr[-4000:]
    return out


def _page(site: Path, path: str) -> str:
    return (site / path / "index.html").read_text(encoding="utf-8")


def test_the_api_reference_is_generated_from_the_docstrings(site: Path) -> None:
    expected = {
        "reference/machine": ["turnstile.machine.RealtimeAgent", "turnstile.machine.AgentChart",
                              "turnstile.machine.AgentOptions", "turnstile.machine.Trace"],
        "reference/openai": ["turnstile.adapters.openai.OpenAIRealtime", "turnstile.adapters.openai.ServerVad"],
        "reference/gemini": ["turnstile.adapters.gemini.GeminiLive"],
        "reference/livekit": ["turnstile.adapters.livekit.LiveKitRoom", "turnstile.adapters.livekit.run_agent"],
        "reference/local": ["turnstile.adapters.local.LocalRoom"],
        "reference/scripted": ["turnstile.adapters.scripted.ScriptedRealtime"],
        "reference/diagrams": ["turnstile.diagrams.render", "turnstile.diagrams.chart_mermaid"],
    }  # fmt: skip
    for page, ids in expected.items():
        html = _page(site, page)
        for anchor in ids:
            assert f'id="{anchor}"' in html, (page, anchor)
    # A docstring's own words, not only the names.
    assert "A realtime voice agent whose behaviour is" in _page(site, "reference/machine")


def test_the_guides_carry_the_examples_and_the_readme_sections(site: Path) -> None:
    agent = _page(site, "guides/agent")
    assert "get_weather" in agent and "openai_provider" in agent  # examples/openai_agent.py
    assert "GreetingPlaysWhole" in _page(site, "guides/hooks")
    assert "test_the_weather_call" in _page(site, "guides/testing")
    chart = _page(site, "chart")
    assert "interruption_allowed" in chart and "../diagrams/agent_chart.svg" in chart
    assert (site / "diagrams" / "agent_chart.svg").is_file()
    assert "Never stuck." in _page(site, "guides/reliability")
    assert "chart dispatch per event" in _page(site, "measured")
    assert "are all ANDed" not in chart  # (the guard rule lives in the hooks guide)
    assert "ANDed" in _page(site, "guides/hooks")


def test_no_page_loads_anything_from_elsewhere(site: Path) -> None:
    """``theme.font: false``: no web fonts, the site works where the build did (offline)."""
    for html in site.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        for host in ("fonts.googleapis.com", "fonts.gstatic.com", "unpkg.com", "cdn.jsdelivr.net"):
            assert host not in text, (html, host)


def test_a_broken_reference_fails_the_build(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Broken\n\n::: turnstile.machine.NoSuchThing\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text(textwrap.dedent(f"""\
        INHERIT: {ROOT / "mkdocs.yml"}
        docs_dir: {docs}
        hooks: [{DOCS / "_hooks.py"}]
        nav: [index.md]
    """))
    result = _build(config, tmp_path / "site")
    assert result.returncode != 0
    assert "NoSuchThing" in result.stderr


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("turnstile_docs_hooks", DOCS / "_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_readme_section_that_is_gone_fails_the_build() -> None:
    from mkdocs.exceptions import PluginError

    hooks = _hooks()
    readme = "# T\n\n## The chart\n\ntable\n\n## Next\n"
    assert hooks.readme_section("## The chart", readme) == "table"
    with pytest.raises(PluginError, match="no section '## Reliability'"):
        hooks.readme_section("## Reliability", readme)


def _blocks(path: Path) -> list[str]:
    return FENCE.findall(path.read_text(encoding="utf-8"))


def _example_sources() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in EXAMPLES.glob("*.py")}


def _run_block(code: str, where: str) -> None:
    """Execute a block as a module of its own (not as ``__main__``: a guarded entry point
    that would connect to a real service stays defined, not run)."""
    tree = ast.parse(code, where)
    exec(compile(tree, where, "exec"), {"__name__": "docs_block"})  # our own docs


DOC_PAGES = sorted(DOCS.rglob("*.md"))


@pytest.mark.parametrize("page", DOC_PAGES, ids=[str(p.relative_to(DOCS)) for p in DOC_PAGES])
def test_the_python_blocks_of_the_docs_run(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Constructing a provider needs a key; nothing here connects.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-docs")
    monkeypatch.setenv("GOOGLE_API_KEY", "docs")
    for i, block in enumerate(_blocks(page)):
        lines = block.strip().splitlines()
        included = [SNIPPET.match(line) for line in lines]
        if all(included):  # whole example files: tests/test_examples.py runs them
            for match in included:
                assert match is not None and (ROOT / match.group(1)).is_file(), match
                assert match.group(1).startswith("examples/"), match.group(1)
            continue
        _run_block(block, f"{page.relative_to(ROOT)}[{i}]")


def test_the_readme_code_is_an_example_or_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A README block is a verbatim excerpt of an examples/ file (run by test_examples),
    or runs as it stands."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-docs")
    monkeypatch.setenv("GOOGLE_API_KEY", "docs")
    examples = _example_sources()
    blocks = _blocks(ROOT / "README.md")
    assert blocks, "the README shows no python"
    for i, block in enumerate(blocks):
        if any(block in source for source in examples.values()):
            continue
        _run_block(block, f"README.md[{i}]")
