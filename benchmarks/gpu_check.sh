#!/usr/bin/env bash
# benchmarks/gpu_check.sh: the one command to run first whenever a GPU is available.
#
#   bash benchmarks/gpu_check.sh                       # on the GPU machine (it cd's to the repository root)
#   GPU_CHECK_DRY_RUN=1 bash benchmarks/gpu_check.sh   # or --dry-run: the same steps on the CPU, tiny sizes
#
# It writes ONE report, $OUT/gpu_check_report.md (OUT defaults to ./gpu_check_out), rewritten after every
# step: each step's command, exit code, wall time and key figures, and in an appendix each step's log. Beside
# it, $OUT/gpu_check_logs.tar.gz holds every log whole, the sample pictures, metrics and loss curves. Nothing
# else goes to OUT (the device tool brings back at most 8 files); runs, checkpoints, logs and data are in
# WORK ($GPU_CHECK_WORK, default $OUT.work beside OUT), logs as $WORK/logs/<step>.log.
# Every step has its own timeout, cut to what is left of a total time budget; steps go on after a failure.
# The steps, run in this order (numbered as in the brief that asked for them):
#   1  nvidia-smi; Python/NumPy/CuPy/torch versions, the GPU's name and compute capability via CuPy,
#      tinygan.device_available("gpu")
#   2  the whole test suite (-q -rfEs, not stopping at a failure), then the gpu-marked tests alone (-m gpu -rA)
#   3  the three examples for a short run with --device gpu, each into $WORK/runs/<name>; MNIST from
#      $GPU_CHECK_MNIST_DIR, ../shared/data/mnist or ./shared/data/mnist (the 10k test split), else a
#      generated MNIST-format stand-in in $WORK/fake_mnist
#   4  python -m tinygan.sample on the GPU and on the CPU from the same checkpoints; max |difference|
#   5  --resume the MLP run on the GPU to epoch 3 and check the checkpoint says epoch 3
#   7  the MLP GAN for 3,000 steps with tinygan.app.gan.GAN: CuPy pool used/total bytes and step time
#   6  benchmarks/bench_gan_step.py --device gpu --compare-torch --no-write, --loop gan, user and graph
#      (last: the most expendable when time runs short)
#
# Environment: OUT, GPU_CHECK_WORK, GPU_CHECK_DRY_RUN=1, GPU_CHECK_BUDGET_S (total seconds; default 420 on
# the GPU, 900 in a dry run), GPU_CHECK_MNIST_DIR (a folder holding t10k-images/labels-idx*-ubyte[.gz]),
# GPU_CHECK_DATA=fake (use the generated stand-in even where MNIST is there), GPU_CHECK_TESTS (the pytest
# arguments of the first test step; default: the whole suite, in a dry run two small files), PYTHON.
set -u -o pipefail

case "${GPU_CHECK_DRY_RUN:-0}" in 0|"") DRY=0 ;; *) DRY=1 ;; esac
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY=1 ;;
        -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
    esac
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || exit 1
cd "$REPO" || exit 1
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT" || { echo "gpu_check.sh: cannot create OUT=$OUT" >&2; exit 1; }
OUT=$(cd "$OUT" && pwd) || exit 1
# OUT gets two files: the report and an archive of the logs (the device tool brings back at most 8 files);
# everything else (runs and checkpoints, logs, samples, data, the run's state) goes to WORK, beside OUT
WORK=${GPU_CHECK_WORK:-$OUT.work}
mkdir -p "$WORK" 2>/dev/null || WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check_work.XXXXXX") || exit 1
WORK=$(cd "$WORK" && pwd) || exit 1
for dir in "$OUT" "$WORK"; do
    if [ "$dir" = "/" ] || [ "$dir" = "$REPO" ] || [ "$OUT" = "$WORK" ]; then
        echo "gpu_check.sh: OUT=$OUT and WORK=$WORK must be two folders of their own (the script clears its" \
             "files there)" >&2
        exit 2
    fi
done
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=Agg PYTHONUNBUFFERED=1     # a step killed at its timeout still has its output in its log
PY=${PYTHON:-python}
command -v "$PY" >/dev/null 2>&1 || PY=python3
HELPER=benchmarks/gpu_check.py
TIMEOUT_CMD=(timeout -s INT -k 10)   # SIGINT first: pytest still prints its counts, the examples say
                                      # what they saved; SIGKILL 10 s later if that is not enough
command -v timeout >/dev/null 2>&1 || TIMEOUT_CMD=()

if [ "$DRY" = 1 ]; then
    MODE=dry-run DEVICE=cpu BUDGET=${GPU_CHECK_BUDGET_S:-900}
    TEST_ARGS=${GPU_CHECK_TESTS:-tests/test_data.py tests/test_sample.py}
    MLP_SIZE=(--epochs 2 --limit-batches 5) DCGAN_SIZE=(--epochs 1 --limit-batches 3)
    TOY_SIZE=(--epochs 2 --steps-per-epoch 20) RESUME_LIMIT=5 FAKE_N=2000
    MEM_SIZE=(--steps 60 --at 10,20,40,60)
    BENCH_SIZE=(--config mlp-64 --repeats 2 --rounds 1 --warmup 2 --min-time 0.05 --threads 1)
else
    MODE=gpu DEVICE=gpu BUDGET=${GPU_CHECK_BUDGET_S:-420}
    TEST_ARGS=${GPU_CHECK_TESTS:-}
    MLP_SIZE=(--epochs 2 --limit-batches 150) DCGAN_SIZE=(--epochs 1 --limit-batches 100)
    TOY_SIZE=(--epochs 2 --steps-per-epoch 200) RESUME_LIMIT=150 FAKE_N=10000
    MEM_SIZE=(--steps 3000 --at 100,1000,2000,3000)
    BENCH_SIZE=(--repeats 3 --rounds 1 --warmup 5 --min-time 0.2)
fi
MIN_STEP_S=5            # a step with less time than this left is skipped, not started

# only what this script writes is cleared: a rerun into the same OUT starts afresh
rm -rf "$WORK/logs" "$WORK/runs" "$WORK/samples" "$WORK/fake_mnist"
rm -f "$WORK/env.json" "$OUT/gpu_check_report.md" "$OUT/gpu_check_logs.tar.gz"
mkdir -p "$WORK/logs" "$WORK/runs" "$WORK/samples"

now_ms() { date +%s%3N; }
T0=$(now_ms)
elapsed_s() { echo $(( ($(now_ms) - T0) / 1000 )); }

# a command as text for the report: plain words as they are, others quoted, $WORK and $OUT for the folders
quote_cmd() {
    local word text=""
    for word in "$@"; do
        if [[ "$word" =~ ^[A-Za-z0-9_./=:,+@%-]+$ ]]; then text+="$word "; else text+="$(printf '%q' "$word") "; fi
    done
    text=${text% }
    text=${text//"$WORK"/\$WORK}
    echo "${text//"$OUT"/\$OUT}"
}

helper() { "$PY" "$HELPER" "$@"; }

skip_step() {   # id title reason [command]
    echo "[$1] $2: skipped: $3"
    helper record --work "$WORK" --id "$1" --title "$2" --cmd "${4:-}" --reason "$3" >/dev/null ||
        echo "[$1] (the helper could not record this step)"
}

STEP_RC=0
CHILD="" CURRENT=()
run_step() {    # id title timeout kind command...
    local id=$1 title=$2 limit=$3 kind=$4
    shift 4
    local cmd_text left t log start rc wall_ms wall
    cmd_text=$(quote_cmd "$@")
    left=$(( BUDGET - $(elapsed_s) ))
    if (( left < MIN_STEP_S )); then
        skip_step "$id" "$title" "time budget spent (${left} s left of ${BUDGET} s)" "$cmd_text"
        STEP_RC=125
        return 125
    fi
    t=$(( limit < left ? limit : left ))
    log="$WORK/logs/$id.log"
    helper begin --work "$WORK" --id "$id" --title "$title" --cmd "$cmd_text" --timeout "$t" ||
        echo "[$id] (the helper could not mark the step as started)"
    printf '$ %s\n# timeout %ss\n' "$cmd_text" "$t" > "$log"
    echo "[$id] $title (timeout ${t}s): $cmd_text"
    start=$(now_ms)
    CURRENT=("$id" "$title" "$cmd_text" "$t" "$kind" "$log" "$start")
    # in the background and waited for, so a signal to this script is handled at once (see the trap)
    "${TIMEOUT_CMD[@]}" ${TIMEOUT_CMD[@]:+"$t"} "$@" >>"$log" 2>&1 </dev/null &
    CHILD=$!
    wait "$CHILD"
    rc=$?
    CHILD="" CURRENT=()
    wall_ms=$(( $(now_ms) - start ))
    wall=$(printf '%d.%03d' $(( wall_ms / 1000 )) $(( wall_ms % 1000 )))
    helper record --work "$WORK" --id "$id" --title "$title" --cmd "$cmd_text" --rc "$rc" --wall "$wall" \
        --timeout "$t" --kind "$kind" --log "$log" ||
        echo "[$id] exit $rc after ${wall}s (the helper could not record this step; see $log)"
    STEP_RC=$rc
    return $rc
}

finish() {
    local total_ms total
    total_ms=$(( $(now_ms) - T0 ))
    total=$(printf '%d.%03d' $(( total_ms / 1000 )) $(( total_ms % 1000 )))
    helper finish --work "$WORK" --total "$total" || echo "gpu_check: total ${total}s; report $OUT/gpu_check_report.md"
    echo "gpu_check: total wall time ${total} s"
}
on_signal() {
    # timeout(1) leads its own process group: end it and everything the step started, nothing else
    [ -n "$CHILD" ] && kill -TERM -- "-$CHILD" 2>/dev/null
    helper meta --work "$WORK" --note "this run was interrupted by a signal after $(elapsed_s) s" >/dev/null 2>&1
    if [ "${#CURRENT[@]}" -gt 0 ]; then
        local wall_ms=$(( $(now_ms) - CURRENT[6] ))
        helper record --work "$WORK" --id "${CURRENT[0]}" --title "${CURRENT[1]}" --cmd "${CURRENT[2]}" --rc 130 \
            --wall "$(printf '%d.%03d' $(( wall_ms / 1000 )) $(( wall_ms % 1000 )))" --timeout "${CURRENT[3]}" \
            --kind "${CURRENT[4]}" --log "${CURRENT[5]}" >/dev/null 2>&1
    fi
    finish
    exit 130
}
trap on_signal INT TERM

helper init --work "$WORK" --out "$OUT" --mode "$MODE" --device "$DEVICE" --budget "$BUDGET" \
    --argv "$( [ "$DRY" = 1 ] && echo "GPU_CHECK_DRY_RUN=1 " )bash benchmarks/gpu_check.sh${*:+ $*}" ||
    echo "gpu_check.sh: the helper failed to start the report (is $PY working?)" >&2
helper meta --work "$WORK" --note "steps run in the order 1, 2, 3, 4, 5, 7, 6: the benchmark last, since it is the \
most expendable when the time budget runs short" >/dev/null
echo "gpu_check: mode $MODE, device $DEVICE, budget ${BUDGET}s, report $OUT/gpu_check_report.md"

# ---------------------------------------------------------------------------------------------------- 1
if command -v nvidia-smi >/dev/null 2>&1; then
    run_step 1a "nvidia-smi" 30 nvidia-smi nvidia-smi
else
    skip_step 1a "nvidia-smi" "nvidia-smi is not on PATH" "nvidia-smi"
fi
ENV_ARGS=(env --json "$WORK/env.json")
[ "$DRY" = 1 ] || ENV_ARGS+=(--require-gpu)
run_step 1b "versions, the GPU via CuPy, device_available('gpu')" 60 env "$PY" "$HELPER" "${ENV_ARGS[@]}"

# ---------------------------------------------------------------------------------------------------- 2
# shellcheck disable=SC2086  # TEST_ARGS is a list of words on purpose
run_step 2a "test suite${TEST_ARGS:+ ($TEST_ARGS)}, all failures listed" 210 pytest \
    "$PY" -m pytest -q -rfEs -p no:cacheprovider $TEST_ARGS
run_step 2b "gpu-marked tests alone (-m gpu)" 90 pytest "$PY" -m pytest -q -rA -p no:cacheprovider -m gpu

# ---------------------------------------------------------------------------------------------------- 3
DATA_DIR=""
has_split() {   # folder holds the 10k test split, gzipped or not
    [ -n "$1" ] && { [ -f "$1/t10k-images-idx3-ubyte.gz" ] || [ -f "$1/t10k-images-idx3-ubyte" ]; } &&
        { [ -f "$1/t10k-labels-idx1-ubyte.gz" ] || [ -f "$1/t10k-labels-idx1-ubyte" ]; }
}
if [ "${GPU_CHECK_DATA:-auto}" != fake ]; then
    for candidate in "${GPU_CHECK_MNIST_DIR:-}" "$REPO/../shared/data/mnist" "$REPO/shared/data/mnist"; do
        if has_split "$candidate"; then
            DATA_DIR=$(cd "$candidate" && pwd)
            break
        fi
    done
fi
if [ -n "$DATA_DIR" ]; then
    if run_step 3.0 "data: the real MNIST 10k test split" 60 kv "$PY" "$HELPER" check-data "$DATA_DIR"; then
        helper meta --work "$WORK" --set "data=the real MNIST 10k test split from $DATA_DIR (--split test)" >/dev/null
    else
        DATA_DIR=""
    fi
fi
if [ -z "$DATA_DIR" ]; then
    fake_id=3.0
    [ -f "$WORK/logs/3.0.log" ] && fake_id=3.0b      # after a real-MNIST step that failed
    if run_step "$fake_id" "data: generate an MNIST-format stand-in ($FAKE_N images)" 60 kv \
        "$PY" "$HELPER" fake-mnist "$WORK/fake_mnist" --n "$FAKE_N"; then
        DATA_DIR="$WORK/fake_mnist"
        helper meta --work "$WORK" --set "data=GENERATED stand-in, not MNIST: $FAKE_N seven-segment digit images \
in \$WORK/fake_mnist as uncompressed IDX files named like the 10k test split (--split test); no real MNIST was found \
(GPU_CHECK_MNIST_DIR, ../shared/data/mnist, ./shared/data/mnist) or GPU_CHECK_DATA=fake" >/dev/null
    else
        helper meta --work "$WORK" --set "data=NONE: no MNIST found and the stand-in could not be generated" >/dev/null
    fi
fi
MNIST_ARGS=(--data-dir "$DATA_DIR" --split test --no-download)
# not --quiet: stderr is not a terminal, so no progress bar; the per-epoch line carries images/s
if [ -n "$DATA_DIR" ]; then
    run_step 3a "MLP GAN example on $DEVICE" 90 example "$PY" examples/mnist_mlp_gan.py --device "$DEVICE" \
        "${MLP_SIZE[@]}" "${MNIST_ARGS[@]}" --out "$WORK/runs/mlp"
    run_step 3b "DCGAN example on $DEVICE" 90 example "$PY" examples/mnist_dcgan.py --device "$DEVICE" \
        "${DCGAN_SIZE[@]}" "${MNIST_ARGS[@]}" --out "$WORK/runs/dcgan"
else
    skip_step 3a "MLP GAN example on $DEVICE" "no data (step 3.0 failed)"
    skip_step 3b "DCGAN example on $DEVICE" "no data (step 3.0 failed)"
fi
run_step 3c "toy 2-D GAN example on $DEVICE" 60 example "$PY" examples/toy_2d_gan.py --device "$DEVICE" \
    "${TOY_SIZE[@]}" --out "$WORK/runs/toy"

# ---------------------------------------------------------------------------------------------------- 4
for arch in mlp dcgan; do
    ckpt="$WORK/runs/$arch/checkpoint.npz"
    ids=(4a 4b 4c)
    [ "$arch" = dcgan ] && ids=(4d 4e 4f)
    if [ ! -f "$ckpt" ]; then
        skip_step "${ids[0]}" "sample the $arch checkpoint on $DEVICE and on cpu" "no checkpoint: its example failed"
        continue
    fi
    a="$WORK/samples/${arch}_on_$DEVICE.npy" b="$WORK/samples/${arch}_on_cpu.npy"
    [ "$DEVICE" = cpu ] && a="$WORK/samples/${arch}_on_cpu_first.npy"
    run_step "${ids[0]}" "sample the $arch checkpoint on $DEVICE" 45 last "$PY" -m tinygan.sample "$ckpt" \
        --device "$DEVICE" --n 64 --seed 1 --out "${a%.npy}.png" --npy "$a"
    run_step "${ids[1]}" "sample the same checkpoint on cpu" 45 last "$PY" -m tinygan.sample "$ckpt" \
        --device cpu --n 64 --seed 1 --out "${b%.npy}.png" --npy "$b"
    what="$arch samples: $DEVICE vs cpu, same seed"
    [ "$DEVICE" = cpu ] && what="$arch samples: cpu vs cpu, same seed (dry run: 0 expected)"
    if [ -f "$a" ] && [ -f "$b" ]; then
        run_step "${ids[2]}" "$what" 30 kv "$PY" "$HELPER" compare-npy "$a" "$b" --tol 1e-4
    else
        skip_step "${ids[2]}" "$what" "a sampling step wrote no .npy"
    fi
done

# ---------------------------------------------------------------------------------------------------- 5
ckpt="$WORK/runs/mlp/checkpoint.npz"
if [ -f "$ckpt" ] && [ -n "$DATA_DIR" ]; then
    run_step 5a "resume the MLP run on $DEVICE to epoch 3" 90 example "$PY" examples/mnist_mlp_gan.py \
        --resume "$ckpt" --epochs 3 --device "$DEVICE" --limit-batches "$RESUME_LIMIT" --data-dir "$DATA_DIR" \
        --no-download
    run_step 5b "the resumed checkpoint's epoch is 3" 30 kv "$PY" "$HELPER" ckpt-info "$ckpt" --expect-epoch 3
else
    skip_step 5a "resume the MLP run on $DEVICE to epoch 3" "no MLP checkpoint (step 3a failed) or no data"
fi

# ---------------------------------------------------------------------------------------------------- 7
MEM_DATA=()
[ -n "$DATA_DIR" ] && MEM_DATA=(--data-dir "$DATA_DIR" --split test)
run_step 7 "memory over a long MLP GAN run on $DEVICE" 120 memloop "$PY" "$HELPER" memloop --device "$DEVICE" \
    "${MEM_SIZE[@]}" "${MEM_DATA[@]}"

# ---------------------------------------------------------------------------------------------------- 6
if "$PY" benchmarks/bench_gan_step.py --help 2>/dev/null | grep -q -- "--loop"; then
    run_step 6a "bench_gan_step --loop gan vs torch on $DEVICE" 120 bench "$PY" benchmarks/bench_gan_step.py \
        --device "$DEVICE" --compare-torch --no-write --loop gan "${BENCH_SIZE[@]}"
    run_step 6b "bench_gan_step --loop user vs torch on $DEVICE" 120 bench "$PY" benchmarks/bench_gan_step.py \
        --device "$DEVICE" --compare-torch --no-write --loop user "${BENCH_SIZE[@]}"
    if [ "$DEVICE" = gpu ]; then
        run_step 6c "bench_gan_step --loop graph (CUDA graph) vs torch eager on $DEVICE" 120 bench "$PY" \
            benchmarks/bench_gan_step.py --device "$DEVICE" --compare-torch --no-write --loop graph "${BENCH_SIZE[@]}"
    fi
else
    run_step 6a "bench_gan_step vs torch on $DEVICE (no --loop option here)" 150 bench "$PY" \
        benchmarks/bench_gan_step.py --device "$DEVICE" --compare-torch --no-write "${BENCH_SIZE[@]}"
fi

trap - INT TERM
finish
