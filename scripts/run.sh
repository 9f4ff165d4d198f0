#!/usr/bin/env bash
# The main job: set up tools, build pkg/, price the sample plan.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

step "setup"
bash scripts/setup.sh
step "build pkg/"
bash scripts/build.sh
step "price sample"
node scripts/price-sample.mjs
