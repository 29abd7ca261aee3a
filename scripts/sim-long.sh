#!/usr/bin/env bash
# The long run of the reconciler's deterministic cluster simulation (test/property/simulation.test.ts).
# CI runs 1,000 schedules; this runs SIM_RUNS (default 50,000). Replay a failure with
# SIM_SEED=<seed> SIM_RUNS=1 (fast-check prints the seed and the shrunk schedule).
set -euo pipefail
cd "$(dirname "$0")/.."
export SIM_RUNS="${SIM_RUNS:-50000}"
exec npx vitest run test/property/simulation.test.ts --testTimeout=0 "$@"
