# The two commands: `make up` (the local deployment) and `make test` (every test).
.PHONY: up down test fmt lint openapi drills bench bench-hop loadtest loadtest-release audit infra-check infra-sim deny

PROFILE ?= dev

# Options: API_INSTANCES=2 STANDBY=1 FAULTS=1 TLS=1 (see infra/local/up.sh).
up:
	PROFILE=$(PROFILE) bash infra/local/up.sh

down:
	bash infra/local/down.sh

test:
	bash infra/local/test.sh

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets -- -D warnings

# Supply-chain checks (cargo-deny against the offline RustSec snapshot; also in `make test`).
deny:
	bash infra/local/deny.sh

openapi:
	cargo run -q --bin loyalty-api -- --print-openapi

# The failure drills, one at a time, with their figures (also part of `make test`).
drills:
	bash infra/local/drills.sh "$(DRILL)"

# Side-by-side benchmarks (release build, own ports, nginx installed if missing); figures
# into docs/BENCHMARKS.md. ARGS="--quick" for a smoke run, "--only hop,fanout" for some.
bench:
	python3 infra/local/bench.py $(ARGS)

# Direct to a region versus through the router (release build, own ports).
bench-hop:
	bash infra/local/bench-hop.sh

# The default load scenario (20 users, 5 groups, 3 regions) against `make up`'s
# deployment, with its consistency verdict; ARGS adds options (see --help).
loadtest:
	cargo run --release -q -p loadtest -- $(ARGS)

# The same scenario against a release build on its own ports; report in docs/loadtest/.
loadtest-release:
	bash infra/local/loadtest-release.sh $(ARGS)

# Every region's books checked in its database (loyalty-api --audit) of the running
# local deployment.
audit:
	bash infra/local/audit.sh

# Offline checks of the AWS deployment: terraform fmt/validate/test and checkov.
infra-check:
	bash infra/check.sh

# The whole production stack applied to a simulated AWS (moto, installed from PyPI if
# missing), checked with boto3 (paths and rules), destroyed (also part of `make test`).
infra-sim:
	bash infra/sim/sim.sh
