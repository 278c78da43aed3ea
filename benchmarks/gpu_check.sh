#!/usr/bin/env bash
# The GPU checks whose figures docs/speed.md records: the CUDA tests, `rnnbench bench` on the GPU at
# several batch sizes beside the same machine's CPU (1 thread), and short JSB GRU training runs on
# each device at batch 1 (the paper's protocol) and 8. Every step has its own time limit and log,
# so one failure leaves the others' figures. Packs everything into OUT_DIR/gpu_check.tar.gz.
#
#   bash benchmarks/gpu_check.sh OUT_DIR        # needs rnnbench importable and the datasets
#                                               # (RNNBENCH_DATA_DIR, RNNBENCH_MIRROR)
# DEVICES="cpu" runs it without a GPU (to check the script itself).
set -u
out=$(realpath -m "${1:?usage: gpu_check.sh OUT_DIR}")
cd "$(dirname "$0")/.."  # the repository root: tests/ and configs/ are read from there
devices=${DEVICES:-cuda cpu}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PYTHONUNBUFFERED=1
rb=(python3 -m rnnbench)
step() {  # step NAME SECONDS COMMAND...: run with a limit; stdout to NAME.out, stderr to NAME.err
  local name=$1 limit=$2 start=$SECONDS rc
  shift 2
  timeout "$limit" "$@" >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
  echo "$name rc=$rc $((SECONDS - start)) s" | tee -a "$work/steps.txt"
}

{ nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__, 'cuda',
torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"; nproc; } >"$work/machine.txt" 2>&1
step data 300 "${rb[@]}" data download --all
if [[ $devices == *cuda* ]]; then
  step pytest-cuda 300 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py
fi
for device in $devices; do
  for batch in 1 16 128; do
    step "bench-$device-b$batch" 240 "${rb[@]}" bench --device "$device" --batch "$batch" --repeats 10 \
      --threads 1 --format json
  done
done
for device in $devices; do
  for batch in 1 8; do
    step "train-$device-b$batch" 300 "${rb[@]}" train configs/paper/jsb-gru.yaml --set "device=$device" \
      --set "train.batch_size=$batch" --set train.max_epochs=3 --set train.eval_train_every=3 \
      --run-dir "$work/run-$device-b$batch"
  done
done
rm -f "$work"/run-*/checkpoint.pt
mkdir -p "$out"
tar -czf "$out/gpu_check.tar.gz" -C "$work" .
cat "$work/machine.txt" "$work/steps.txt"
