# Zipcore: `make demo` runs the main job end to end, `make test` the whole suite.
# Both set up .venv first (scripts/setup.sh), so they work on a fresh machine.

VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test bench doctor clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/bin/zipcore compress builtin:digits-mlp -o build/digits-mlp.zcm --json build/digits-mlp.json
	$(VENV)/bin/zipcore inspect build/digits-mlp.zcm
	$(VENV)/bin/zipcore simulate build/digits-mlp.zcm --json build/digits-mlp-sim.json
	$(VENV)/bin/zipcore build --board ulx3s-85f --pes 4 --freq 60 --json build/ulx3s-85f.json
	$(VENV)/bin/zipcore report build/digits-mlp.zcm -o build/report --board icebreaker --board ulx3s-85f
	$(VENV)/bin/zipcore build --board icebreaker --json build/icebreaker.json

test: setup
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

bench: setup
	$(PY) bench/golden.py

doctor: setup
	$(VENV)/bin/zipcore doctor

clean:
	rm -rf build .pytest_cache .hypothesis
