# The README's two commands, `make demo` and `make test`, do all set-up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PEER := .venv-peer
PEER_VENVS := $(PEER) .venv-pipecat .venv-oai-agents

.PHONY: setup test check demo bench diagrams clean chaos mutants

# Debian's graphviz provides `dot`, which renders SVG and PNG.
/usr/bin/dot:
	@command -v dot >/dev/null 2>&1 || { \
	  echo "installing Debian's graphviz (for the dot program)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq graphviz >/dev/null; }

# Debian's chromium and chromium-driver: the inspector's browser tests drive them
# (tests/inspector); nothing downloads a browser of its own.
/usr/bin/chromedriver:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium and chromium-driver (for the inspector's browser tests)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	@touch $(STAMP)

setup: /usr/bin/dot /usr/bin/chromedriver $(STAMP)

# The run reports the chart coverage of the repository's own suite (which of AgentChart's
# declared transitions, per region, no test took): docs/guides/coverage.md.
test: setup
	$(BIN)/python -m pytest -q --turnstile-coverage --turnstile-coverage-chart=AgentChart

# mypy --strict (pyproject's [tool.mypy]) and ruff. mypy cannot follow the package-dir
# mapping (machine/ is turnstile.machine), so the packages are linked where it looks.
TYPECHECK := build/typecheck/turnstile
check: setup
	@mkdir -p $(TYPECHECK)
	@for p in machine adapters diagrams; do ln -sfn ../../../$$p $(TYPECHECK)/$$p; done
	$(BIN)/mypy
	$(BIN)/ruff check .

demo: setup
	$(BIN)/turnstile demo

# Each peer pins its own versions (livekit-agents an older livekit): each gets a venv of its
# own, from this project's extra of the same name: .venv-peer [bench-peer] (livekit-agents),
# .venv-pipecat [bench-pipecat], .venv-oai-agents [bench-oai-agents] (OpenAI Agents SDK).
.venv-%/.installed: pyproject.toml
	@test -x .venv-$*/bin/python || $(PY) -m venv .venv-$*
	.venv-$*/bin/python -m pip install -q --upgrade pip
	.venv-$*/bin/python -m pip install -q -e '.[bench-$*]'
	@touch $@

# A peer whose venv cannot be made is skipped by the bench, which says why.
bench: setup
	@$(MAKE) --no-print-directory -k $(addsuffix /.installed,$(PEER_VENVS)) || \
	  echo "make bench: a peer's venv could not be made; the bench skips that half and says why"
	$(BIN)/python -m benchmarks

# 500 seeded conversations through a fault-injecting proxy (benchmarks/_chaos.py); exits
# non-zero if any was stuck, lost a tool result or a chat item, or let an exception escape.
chaos: setup
	$(BIN)/python -m benchmarks._chaos --runs 500 --seed 1

# One-line bugs put into a copy of the tree, one at a time (tests/mutants.py): each must
# fail a test. Exits non-zero if one survives or no longer applies to the code ("stale").
mutants: setup
	$(BIN)/python -m tests.mutants

diagrams: setup
	$(BIN)/turnstile diagram --write-committed

clean:
	rm -rf $(VENV) $(PEER_VENVS) build *.egg-info
