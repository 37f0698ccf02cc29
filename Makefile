# Entry points; each does its own set-up. See README.md.
.PHONY: test lab lab-down collection bench drill deps lint
SHELL := /bin/bash
# rustup's cargo and the project's venv come first for every recipe.
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/.venv/bin:$(PATH)

test:
	scripts/test.sh

deps:
	scripts/deps.sh

collection: deps
	scripts/build-collection.sh

lab: deps
	scripts/lab.sh up

lab-down:
	scripts/lab.sh down

bench: deps
	scripts/bench.sh

drill: deps
	scripts/drill.sh

lint: deps
	MATRIXHA_STAGES=lint scripts/test.sh
