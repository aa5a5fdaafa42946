"""MkDocs hooks (``hooks:`` in mkdocs.yml): what the site takes from the rest of the repository.

* The API reference reads the source statically (griffe). The package is mapped from
  top-level folders (machine/ is ``turnstile.machine``), a layout griffe cannot find
  through an editable install; a temporary ``turnstile/`` of links to those folders gives
  it the package as users import it.
* Some pages show a section of README.md (the chart's table, the reliability guarantees,
  the measurements), so that text has one copy: ``<!-- README: ## The chart -->`` on a
  line of its own is replaced by that section, up to the next ``## `` heading, with the
  README's relative links rewritten for the site. A heading that is gone fails the build.
* The files those links point at (the committed chart drawing, the chart's declaration)
  are added to the site at the same paths.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = {"machine": "machine", "adapters": "adapters", "diagrams": "diagrams"}  # turnstile.<key>
SHARED_FILES = ("diagrams/agent_chart.svg", "machine/_chart.py")
# README anchors that are pages of their own in the site.
README_ANCHORS = {"#reliability": "guides/reliability.md", "#the-chart": "chart.md", "#measured": "measured.md"}
MARKER = re.compile(r"^<!-- README: (## .+?) -->$", re.MULTILINE)
LINK = re.compile(r"\]\(([^)\s]+)\)")

_source_dir: tempfile.TemporaryDirectory[str] | None = None


@event_priority(100)  # before mkdocstrings reads its handlers' configuration
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    global _source_dir
    _source_dir = tempfile.TemporaryDirectory(prefix="turnstile-docs-")
    package = Path(_source_dir.name) / "turnstile"
    package.mkdir()
    for name, folder in PACKAGE.items():
        (package / name).symlink_to(ROOT / folder, target_is_directory=True)
    handlers = config.plugins["mkdocstrings"].config["handlers"]
    handlers.setdefault("python", {})["paths"] = [_source_dir.name]
    return config


def on_shutdown() -> None:
    if _source_dir is not None:
        _source_dir.cleanup()


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for path in SHARED_FILES:
        files.append(File.generated(config, path, abs_src_path=str(ROOT / path)))
    return files


def readme_section(heading: str, readme: str) -> str:
    """The README's section under ``heading`` (its text, without the heading line)."""
    lines = readme.splitlines()
    try:
        start = lines.index(heading) + 1
    except ValueError:
        raise PluginError(f"README.md has no section {heading!r} (docs/_hooks.py)") from None
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end]).strip("\n")


def _site_link(target: str, page: Page) -> str:
    """A README-relative link target, as the page at ``page`` must write it."""
    if target.startswith(("http://", "https://", "mailto:")):
        return target
    if target.startswith("#"):
        target = README_ANCHORS.get(target, target)
        if target.startswith("#"):
            return target
    depth = page.file.src_uri.count("/")
    return "../" * depth + target


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files, **_: Any) -> str:
    if "<!-- README: " not in markdown:
        return markdown
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    def include(match: re.Match[str]) -> str:
        section = readme_section(match.group(1), readme)
        return LINK.sub(lambda m: f"]({_site_link(m.group(1), page)})", section)

    return MARKER.sub(include, markdown)
