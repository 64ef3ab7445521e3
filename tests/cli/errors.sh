# errors.sh — a catalogue of bad inputs to the CLI, each with the exit code
# and a fragment of the message a user would need to fix it (the file, line,
# record, tensor or option).  After every failing command: no crash (the
# exact exit code), no hang (60 s), nothing on stdout (no partial results or
# predictions), and the output directory holding --save and --log is empty
# (no checkpoint, temporary file or log; a diverged run, exit 4, keeps its
# log, which says where it diverged).
#
# Categories (the "Reliability" issue's list) and where their cases are;
# each `category` line below opens one, and the run fails if any of these
# ends up with no case:
#   usage           missing command/value, stray argument, option of another command,
#                   predict --top out of range or with --proba, eval --format
#   unknown-option  --foo, --epoch (a suggestion), --save given to eval
#   hyper           impossible hyper-parameters: batch 0 and negative, epochs 0,
#                   lr negative/NaN/Inf/too big, eps, momentum 1, val-split 1,
#                   label smoothing, early stop without validation, more workers
#                   than samples (also after --val-split), 0 workers
#   model-spec      unbalanced, unknown layer/activation/option, no layers,
#                   0 or negative units, dropout >= 1 and < 0, bad penalty
#   json-config     invalid JSON, not an object, empty, nested too deep,
#                   unknown key, wrong type, repeated key, out of range, a device
#   files           missing config/CSV/IDX dir/checkpoint, a directory, /dev/zero,
#                   unwritable --save/--save-best/--log/--checkpoint-dir (checked before training)
#   idx-truncated   pixels, labels, dims header and magic cut short
#   idx-corrupt     data after the declared end, label/image count mismatch, no samples
#   idx-magic       junk, nonzero magic bytes, unknown type, 0 dims, a label file of 3 dims
#   idx-overflow    element counts that overflow size_t or exceed the cap,
#                   a gzip claiming more than deflate can expand to
#   gzip-truncated  trailer cut, stream cut mid-data, header only
#   gzip-corrupt    bad CRC, bad length, garbage deflate (images and labels)
#   csv-ragged      short row, trailing comma, a single column
#   csv-text        non-numeric field, unflagged header, empty field, empty file
#   label-range     more classes than outputs (train, eval), negative,
#                   fractional and too large CSV labels, too large IDX label
#   nonfinite       NaN/Inf/overflowing CSV features (train, predict), NaN/Inf
#                   float32 IDX pixels, a NaN weight in a checkpoint (eval, --init)
#   st-header       bad header length (too big, past the end, 2^64-1), file too
#                   short, cut checkpoint, header not JSON
#   st-offsets      offsets past the end of the file, end before begin
#   st-overlap      overlapping tensors, two tensors on the same bytes
#   st-dtype        F64 where F32 is needed, an unknown dtype
#   st-shape        transposed shape, shape/offsets disagree, a shape product that
#                   wraps around 2^64
#   st-arch         a checkpoint of another architecture: to --init (other
#                   width, other inputs), to eval --load and predict (other
#                   inputs), spec metadata that disagrees with the tensors, a
#                   missing or extra tensor, a safetensors file that is not
#                   a regula checkpoint
#   regression      --loss mse|mae: a target that is not a number or not finite
#                   (train, eval), options that need classes (--class-weight,
#                   --monitor val_acc, a label-skew --partition, predict --proba
#                   and --top, eval --metrics), --monitor val_mae without one, a
#                   last layer that is not dense(1), dense(auto, sigmoid) on 3
#                   classes, a regression that diverges (exit 4)
#   diverge         a run whose loss becomes NaN stops with exit 4
#   extreme         extreme values, each with its defined outcome: features of
#                   3e38 (near FLT_MAX) on 1 and 2 workers, 1e22, 1e25 and 1e30
#                   stop with exit 4 (a gradient beyond the optimizer's limit);
#                   with --skip-nonfinite the steps are skipped, exit 0; 1e20
#                   with --clip-norm and 1e15 train (exit 0, finite weights);
#                   subnormal features train and predict; a model whose weights
#                   overflow makes eval and predict exit 4, naming the sample.
#                   (A checkpoint whose optimizer state holds Inf: test_resume.c.)
#
# Run as: bash errors.sh REGULA_BIN DATA_DIR (VERBOSE=1 prints every message).
# Needs bash 4, coreutils, gzip.
# shellcheck disable=SC2059  # printf formats carry byte escapes on purpose
set -u
# shellcheck source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: errors.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 failed=0
O=$T/out             # where the runs under test write; empty after a failure
mkdir -p "$O"
SAVE=$O/o.safetensors
LOG=$O/o.jsonl
OUTS=(--save "$SAVE" --log "$LOG")

REQUIRED=(usage unknown-option hyper model-spec json-config files idx-truncated idx-corrupt
          idx-magic idx-overflow gzip-truncated gzip-corrupt csv-ragged csv-text label-range
          nonfinite regression st-header st-offsets st-overlap st-dtype st-shape st-arch diverge extreme)
declare -A ncase
cat=setup
category() { cat=$1; }

# expect CODE FRAGMENT -- cmd... : cmd must exit with CODE within 60 s and,
# when CODE is not 0, print FRAGMENT on stderr after "regula: ", nothing on
# stdout, and leave $O empty (but for the log of a diverged run, exit 4).
expect() {
    local want=$1 frag=$2
    shift 2
    [ "$1" = "--" ] && shift
    rm -rf "${O:?}"/* "${O:?}"/.[!.]*
    timeout -k 5 60 "$@" >"$T/stdout" 2>"$T/err"
    local got=$? why="" left=() f
    for f in "$O"/* "$O"/.[!.]*; do
        [ -e "$f" ] || continue
        [ "$want" -eq 4 ] && [ "$f" = "$LOG" ] && continue
        left+=("${f##*/}")
    done
    if [ "$got" -eq 124 ] || [ "$got" -eq 137 ]; then
        why="still running after 60 s (a hang?)"
    elif [ "$got" -ne "$want" ]; then
        why="exit $got, expected $want"
    elif [ -n "$frag" ] && ! grep -qF -- "$frag" "$T/err"; then
        why="stderr lacks '$frag'"
    elif [ "$want" -ne 0 ] && ! grep -q '^regula: ' "$T/err"; then
        why="stderr lacks the 'regula: ' prefix"
    elif [ "$want" -ne 0 ] && [ -s "$T/stdout" ]; then
        why="a failed run printed results: $(head -c 100 "$T/stdout")"
    elif [ "$want" -ne 0 ] && [ ${#left[@]} -gt 0 ]; then
        why="a failed run left output behind: ${left[*]}"
    fi
    [ -n "${VERBOSE:-}" ] && echo "[$cat] exit $got: $(head -c 300 "$T/err")"
    if [ -n "$why" ]; then
        failed=$((failed + 1))
        echo "FAIL [$cat]: $* : $why; stderr: $(head -c 400 "$T/err")" >&2
    else
        pass=$((pass + 1))
        [ "$want" -ne 0 ] && ncase[$cat]=$((${ncase[$cat]:-0} + 1))
    fi
}

gen_csv "$T/d.csv" 90
D=(--data "csv:$T/d.csv")
M='dense(8, relu) dense(3, softmax)'
TR=("$REGULA" train "${D[@]}" --model "$M" --epochs 1 --batch 16 "${OUTS[@]}")
sed 's/$/,0.5/' "$T/d.csv" >"$T/d5.csv"          # 5 features
grep -v '^2,' "$T/d.csv" >"$T/d2.csv"            # 2 classes

# Checkpoints for the eval/predict/--init cases: 4 inputs, 5 inputs, 2 classes.
expect 0 "" -- "$REGULA" train "${D[@]}" --model "$M" --epochs 1 --save "$T/m.safetensors"
expect 0 "" -- "$REGULA" train --data "csv:$T/d5.csv" --model "$M" --epochs 1 --save "$T/m5.safetensors"
expect 0 "" -- "$REGULA" train --data "csv:$T/d2.csv" --model 'dense(2, softmax)' --epochs 1 --save "$T/m2.safetensors"
expect 0 "" -- "$REGULA" predict --load "$T/m.safetensors" --input "csv:$(cut -d, -f2- "$T/d.csv" >"$T/x.csv"; echo "$T/x.csv")"

# --- usage and configuration: exit 2
category usage
expect 2 "Usage: regula" -- "$REGULA"
expect 2 "unknown command 'fit'" -- "$REGULA" fit
expect 2 "unexpected argument 'extra'" -- "${TR[@]}" extra
expect 2 "--model is not an option of 'eval'" -- "$REGULA" eval --load "$T/m.safetensors" --model "$M"
expect 2 "predict needs --input" -- "$REGULA" predict --load "$T/m.safetensors"
expect 2 "eval needs --load" -- "$REGULA" eval "${D[@]}"
# an option where a value should be is not taken as the value
expect 2 "--save needs a value (FILE)" -- "${TR[@]}" --save --no-shuffle
expect 2 "--lr needs a value (X)" -- "${TR[@]}" --lr --epochs 1
expect 2 "--lr needs a value" -- "${TR[@]}" --lr
expect 2 "--header is a flag and takes no value" -- "${TR[@]}" --header=true
expect 2 "--pull-first is a flag and takes no value" -- "${TR[@]}" --strategy ps --workers 3 --pull-first=yes
# what predict and eval print: --top K of 1 to the model's classes, one table
expect 2 "--top 4: the model $T/m.safetensors has 3 classes (give --top 1 to 3)" -- "$REGULA" predict --load "$T/m.safetensors" --input "csv:$T/x.csv" --top 4
expect 2 "--top must be a class count >= 1 (0 = off), got -2" -- "$REGULA" predict --load "$T/m.safetensors" --input "csv:$T/x.csv" --top -2
expect 2 "--proba and --top 2 print different tables" -- "$REGULA" predict --load "$T/m.safetensors" --input "csv:$T/x.csv" --proba --top 2
expect 2 "--format: unknown value 'csv' (expected text or json)" -- "$REGULA" eval "${D[@]}" --load "$T/m.safetensors" --format csv
expect 2 "--metrics is not an option of 'predict'" -- "$REGULA" predict --load "$T/m.safetensors" --input "csv:$T/x.csv" --metrics

category unknown-option
expect 2 "did you mean --epochs?" -- "${TR[@]}" --epoch 2
expect 2 "unknown option --foo" -- "${TR[@]}" --foo 1
# no far-fetched hint: --foo is not --log
[ -n "$(grep 'did you mean' "$T/err")" ] && { failed=$((failed + 1)); echo "FAIL: --foo got a far-fetched hint: $(cat "$T/err")" >&2; }
expect 2 "--save is not an option of 'eval'" -- "$REGULA" eval "${D[@]}" --load "$T/m.safetensors" --save "$SAVE"

category hyper
expect 2 "--link 1gbps,5: expected BANDWIDTH,LATENCY such as 1gbit,50us" -- "${TR[@]}" --link 1gbps,5
expect 2 "--straggler 3: expected RANK:FACTOR" -- "${TR[@]}" --straggler 3
expect 2 "--batch must be a batch size >= 1, got 0" -- "${TR[@]}" --batch 0
expect 2 "--gemm: unknown value 'mkl' (expected auto, openblas or libxsmm)" -- "${TR[@]}" --gemm mkl
expect 2 "--gemm: unknown value '' (expected auto, openblas or libxsmm)" -- "${TR[@]}" --gemm ''
expect 2 "--gemm is not an option of 'eval'" -- "$REGULA" eval "${D[@]}" --load "$T/m.safetensors" --gemm auto
# a build without LIBXSMM refuses it by name (--version says which this is)
if "$REGULA" --version | grep -q "without libxsmm"; then
    expect 2 "--gemm must be auto or openblas: this regula was built without LIBXSMM" -- "${TR[@]}" --gemm libxsmm
fi
expect 2 "--checkpoint-dir $O/ck needs --checkpoint-every N" -- "${TR[@]}" --checkpoint-dir "$O/ck"
expect 2 "--checkpoint-every needs --checkpoint-dir" -- "${TR[@]}" --checkpoint-every 5
expect 2 "--checkpoint-every-epoch needs --checkpoint-dir (or --resume DIR)" -- "${TR[@]}" --checkpoint-every-epoch
expect 2 "--save-best $SAVE is --save's file too" -- "${TR[@]}" --save-best "$SAVE"
expect 2 "--batch must be a batch size >= 1, got -3" -- "${TR[@]}" --batch -3
expect 2 "--epochs must be an epoch count >= 1, got 0" -- "${TR[@]}" --epochs 0
expect 2 "--epochs: '2.5' is not an integer" -- "${TR[@]}" --epochs 2.5
expect 2 "--lr must be a finite number >= 0, got -1" -- "${TR[@]}" --lr -1
expect 2 "--lr: 'nan' is not a finite number" -- "${TR[@]}" --lr nan
expect 2 "--lr: 'inf' is not a finite number" -- "${TR[@]}" --lr=inf
expect 2 "--lr must be a number a float can hold" -- "${TR[@]}" --lr 1e39
expect 2 "--lr: 'abc' is not a number" -- "${TR[@]}" --lr abc
expect 2 "--eps must be a number > 0 that a float can hold" -- "${TR[@]}" --eps 1e-50
expect 2 "--momentum must be in [0,1), got 1" -- "${TR[@]}" --momentum 1
expect 2 "--rho must be in [0,1), got 1" -- "${TR[@]}" --optimizer rmsprop --rho 1
expect 2 "--loss: unknown value 'hinge' (expected auto, crossentropy, bce, mse or mae)" -- "${TR[@]}" --loss hinge
expect 2 "--lr-patience must be an epoch count >= 1" -- "${TR[@]}" --lr-schedule plateau --lr-patience 0
expect 2 "--lr-gamma 1: --lr-schedule plateau cuts the rate by this factor, which must be below 1" -- "${TR[@]}" --lr-schedule plateau --lr-gamma 1
expect 2 "--optimizer: unknown value 'foo' (expected sgd, adam, adamw or rmsprop)" -- "${TR[@]}" --optimizer foo
expect 2 "--val-split must be a fraction in [0,1), got 1" -- "${TR[@]}" --val-split 1
expect 2 "--label-smoothing must be in [0,1)" -- "${TR[@]}" --label-smoothing 1.5
expect 2 "--early-stop needs a validation set" -- "${TR[@]}" --early-stop 2
expect 2 "--workers: 91 workers but only 90 training samples" -- "${TR[@]}" --workers 91
expect 2 "--workers: 50 workers but only 45 training samples" -- "${TR[@]}" --workers 50 --val-split 0.5
expect 2 "--workers must be a worker count in [1, 1024], got 0" -- "${TR[@]}" --workers 0
# regula fed: its own options, and what a federated round cannot take
FE=("$REGULA" fed "${D[@]}" --model "$M" --batch 16 --rounds 1 "${OUTS[@]}")
expect 2 "regula fed needs --clients N" -- "${FE[@]}"
expect 2 "--clients is not an option of 'train'" -- "${TR[@]}" --clients 5
expect 2 "--epochs is not an option of 'fed' (a federated run counts rounds: give --rounds R" -- "${FE[@]}" --clients 5 --epochs 2
expect 2 "--checkpoint-every is not an option of 'fed' (a round's steps depend on how the clients are dealt to workers: checkpoint at each round's end with --checkpoint-every-epoch)" -- "${FE[@]}" --clients 5 --checkpoint-every 5
expect 2 "--clients must be a client count in [1, 10000], got 10001" -- "${FE[@]}" --clients 10001
expect 2 "--clients must be a client count in [1, 10000], got -1" -- "${FE[@]}" --clients -1
expect 2 "--clients 100: only 90 training samples to share among them" -- "${FE[@]}" --clients 100
expect 2 "--rounds must be a round count >= 1, got 0" -- "${FE[@]}" --clients 5 --rounds 0
expect 2 "--sample must be a fraction in (0, 1], got 0" -- "${FE[@]}" --clients 5 --sample 0
expect 2 "--sample must be a fraction in (0, 1], got 1.5" -- "${FE[@]}" --clients 5 --sample 1.5
expect 2 "--local-epochs must be an epoch count in [0, 100000] (0 = 1), got -1" -- "${FE[@]}" --clients 5 --local-epochs -1
expect 2 "--local-steps must be a step count in [0, 10000000] (0 = off), got -2" -- "${FE[@]}" --clients 5 --local-steps -2
expect 2 "regula fed: --local-steps: give --local-epochs or --local-steps, not both" -- "${FE[@]}" --clients 5 --local-epochs 2 --local-steps 3
expect 2 "--algo: unknown value 'fedfoo' (expected fedavg, fedprox, scaffold, feddyn, fedadam or fedyogi)" -- "${FE[@]}" --clients 5 --algo fedfoo
expect 2 "--mu must be a finite number >= 0, got -1" -- "${FE[@]}" --clients 5 --algo fedprox --mu -1
expect 2 "regula fed: --lr-schedule: a schedule by steps would depend on how the clients are dealt" -- "${FE[@]}" --clients 5 --lr-schedule cosine
expect 2 "--checkpoint-every is not an option of 'fed'" -- "${FE[@]}" --clients 5 --checkpoint-every 3 --checkpoint-dir "$O/ck"
expect 2 "--mu-adapt: unknown value 'fisher' (expected none, size, skew or divergence)" -- "${FE[@]}" --clients 5 --mu-adapt fisher
expect 2 "--feddyn-alpha must be a finite number > 0, got 0" -- "${FE[@]}" --clients 5 --algo feddyn --feddyn-alpha 0
expect 2 "--server-lr must be a finite number > 0, got -1" -- "${FE[@]}" --clients 5 --server-lr -1
expect 2 "--server-momentum must be in [0,1), got 1" -- "${FE[@]}" --clients 5 --server-momentum 1
expect 2 "--server-beta2 must be in [0,1), got 1.5" -- "${FE[@]}" --clients 5 --algo fedadam --server-beta2 1.5
expect 2 "--server-eps must be a number > 0 that a float can hold, got 0" -- "${FE[@]}" --clients 5 --algo fedyogi --server-eps 0
expect 2 "regula fed: --server-momentum: the server's momentum is fedavg's and fedprox's (FedAvgM); fedadam and fedyogi keep moments" -- "${FE[@]}" --clients 5 --algo fedadam --server-momentum 0.9
expect 2 "regula fed: --server-momentum: the server's momentum is fedavg's and fedprox's (FedAvgM); scaffold's server takes the plain step" -- "${FE[@]}" --clients 5 --algo scaffold --server-momentum 0.9
expect 2 "regula fed: --server-momentum: the server's momentum is fedavg's and fedprox's (FedAvgM); feddyn's server step is its own" -- "${FE[@]}" --clients 5 --algo feddyn --server-momentum 0.9
# regula fed's robust aggregation, attacks, DP and heterogeneous clients (--sample 0.5 of 10: 5 a round)
FR=("${FE[@]}" --clients 10 --sample 0.5)
expect 2 "--aggregate: 'bogus' is not one of mean, median, trimmed:BETA, krum:F, multikrum:F,M" -- "${FR[@]}" --aggregate bogus
expect 2 "--aggregate trimmed:0.5: BETA must be a number in [0, 0.5)" -- "${FR[@]}" --aggregate trimmed:0.5
expect 2 "--aggregate krum:x: F must be an integer" -- "${FR[@]}" --aggregate krum:x
expect 2 "--aggregate krum:2: Krum's guarantee needs n >= 2F+3 = 7 client updates a round, but a round has 5" -- "${FR[@]}" --aggregate krum:2
expect 2 "--aggregate multikrum:1,5: M must be at most n-F = 4 with 5 updates a round" -- "${FR[@]}" --aggregate multikrum:1,5
expect 2 "--attack: 'foo' is not one of none, signflip[:S], labelflip, noise:SIGMA" -- "${FR[@]}" --attack foo --attackers 0.2
expect 2 "--attack noise:-1: SIGMA must be a finite number > 0" -- "${FR[@]}" --attack noise:-1 --attackers 0.2
expect 2 "--attackers must be a fraction in [0, 1], got 1.5" -- "${FR[@]}" --attack signflip --attackers 1.5
expect 2 "regula fed: --attackers: --attack needs the share of the clients that attack" -- "${FR[@]}" --attack signflip
expect 2 "regula fed: --attack: --attackers needs an attack to simulate" -- "${FR[@]}" --attackers 0.2
expect 2 "--dp-clip must be a finite number >= 0 (0 = off), got -1" -- "${FR[@]}" --dp-clip -1
expect 2 "--dp-noise: 'nan' is not a finite number" -- "${FR[@]}" --dp-clip 1 --dp-noise nan
expect 2 "regula fed: --dp-noise: the noise is SIGMA x --dp-clip C: give --dp-clip C > 0" -- "${FR[@]}" --dp-noise 1
expect 2 "--dp-delta must be in (0, 1), got 0" -- "${FR[@]}" --dp-clip 1 --dp-delta 0
expect 2 "--dp-delta must be in (0, 1), got 1" -- "${FR[@]}" --dp-clip 1 --dp-delta 1
expect 2 "regula fed: --dp-clip: DP-FedAvg's noise is calibrated to the sum of the clipped updates: --aggregate mean" -- "${FR[@]}" --dp-clip 1 --aggregate median
expect 2 "regula fed: --dp-clip: scaffold's and feddyn's clients send state of their own" -- "${FR[@]}" --dp-clip 1 --algo scaffold
expect 2 "--client-dropout must be a probability in [0, 1), got 1" -- "${FR[@]}" --client-dropout 1
expect 2 "--straggler-frac must be a probability in [0, 1], got 2" -- "${FR[@]}" --straggler-frac 2
expect 2 "--client-state: unknown value 'ssd' (expected auto, memory or disk)" -- "${FR[@]}" --algo scaffold --client-state ssd
expect 2 "--attack labelflip: the data has no class labels to flip (a regression)" -- "${FR[@]}" --loss mse --model 'dense(1)' --attack labelflip --attackers 0.2
expect 2 "--aggregate is not an option of 'train'" -- "${TR[@]}" --aggregate median
# QSGD is not contractive: error feedback's residual would grow without bound
expect 2 "--error-feedback on with --compress qsgd:8: QSGD is unbiased but not contractive" -- "${TR[@]}" --workers 2 --compress qsgd:8 --error-feedback on
# --compress-update: Adam moves into the codec, which then carries the update
expect 2 "--compress-update: needs a --compress codec other than dgc" -- "${TR[@]}" --workers 2 --compress-update
expect 2 "--compress-update: moves Adam into the codec: it needs --optimizer adam" -- "${TR[@]}" --workers 2 --compress topk:0.1 --compress-update --optimizer sgd
expect 2 "--compress-update: needs --reg-scope local" -- "${TR[@]}" --workers 2 --compress topk:0.1 --compress-update
expect 2 "--compress-update: no gradient is summed to clip (--clip-norm)" -- "${TR[@]}" --workers 2 --compress topk:0.1 --compress-update --reg-scope local --clip-norm 1
expect 2 "--compress-update: compresses the gradient exchange of --strategy allreduce" -- "${TR[@]}" --workers 2 --compress topk:0.1 --compress-update --reg-scope local --strategy local-sgd

category model-spec
expect 2 "--model: dropout rate 1.0 is outside [0, 1)" -- "${TR[@]}" --model 'dense(8, relu) dropout(1.0) dense(3, softmax)'
expect 2 "--model: dropout rate -0.1 is outside [0, 1)" -- "${TR[@]}" --model 'dense(8, relu) dropout(-0.1) dense(3, softmax)'
expect 2 "--model: missing ')' before the next layer" -- "${TR[@]}" --model 'dense(8, relu dense(3, softmax)'
expect 2 "--model:" -- "${TR[@]}" --model 'dense(8, relu) conv(3) dense(3, softmax)'
expect 2 "--model: unknown activation 'swish'" -- "${TR[@]}" --model 'dense(8, swish) dense(3, softmax)'
expect 2 "--model: dense has no option 'foo'" -- "${TR[@]}" --model 'dense(8, relu, foo=1) dense(3, softmax)'
expect 2 "--model: no layers in ''" -- "${TR[@]}" --model ''
expect 2 "--model: dense units '0' must be an integer" -- "${TR[@]}" --model 'dense(0, softmax)'
expect 2 "--model: dense units '-3' must be an integer" -- "${TR[@]}" --model 'dense(-3, relu) dense(3, softmax)'
expect 2 "--model: l2=nan: expected a finite number >= 0" -- "${TR[@]}" --model 'dense(8, relu, l2=nan) dense(3, softmax)'
expect 2 "--model: expected '(' after the layer name at character 24" -- "${TR[@]}" --model 'dense(3, softmax) extra'

category json-config
printf '{\n  "epochs": 1,\n  "lr": 0.1,,\n}\n' >"$T/bad.json"
expect 2 "bad.json: invalid JSON at line 3" -- "${TR[@]}" --config "$T/bad.json"
printf '[1, 2]' >"$T/array.json"
expect 2 "array.json: expected a JSON object of options, got an array" -- "${TR[@]}" --config "$T/array.json"
: >"$T/empty.json"
expect 2 "empty.json: invalid JSON at line 1" -- "${TR[@]}" --config "$T/empty.json"
printf '%*s' 5000 '' | tr ' ' '[' >"$T/deep.json"
expect 2 "deep.json: invalid JSON at line 1" -- "${TR[@]}" --config "$T/deep.json"
printf '{"epochs": 1, "learning_rate": 0.1}' >"$T/unknown.json"
expect 2 "unknown.json: key 'learning_rate': unknown option" -- "${TR[@]}" --config "$T/unknown.json"
printf '{"lr": "0.1"}' >"$T/type.json"
expect 2 "type.json: key 'lr': expected a number, got a string" -- "${TR[@]}" --config "$T/type.json"
printf '{"epochs": 1e400}' >"$T/huge.json"
expect 2 "huge.json: key 'epochs': expected an integer" -- "${TR[@]}" --config "$T/huge.json"
printf '{"reg_adapt": "size", "partition": "dirichlet:0.5"}' >"$T/cross.json"
expect 2 "cross.json: key 'reg-adapt': --reg-adapt size needs --reg-scope local" -- "${TR[@]}" --config "$T/cross.json"
printf '{"epochs": 1, "epochs": 2}' >"$T/twice.json"
expect 2 "twice.json: key 'epochs' sets --epochs again" -- "${TR[@]}" --config "$T/twice.json"
printf '{"lr": -3}' >"$T/range.json"
expect 2 "range.json: key 'lr': --lr must be a finite number >= 0, got -3" -- "${TR[@]}" --config "$T/range.json"
expect 2 "/dev/zero: larger than 64 MiB, not a configuration file" -- "${TR[@]}" --config /dev/zero
# the command line fixes a bad value from the file
expect 0 "" -- "$REGULA" train "${D[@]}" --model "$M" --epochs 1 --config "$T/range.json" --lr 0.01

# --- data, checkpoints and files: exit 3
category files
expect 3 "missing.json" -- "${TR[@]}" --config "$T/missing.json"
expect 3 "nothere.csv: cannot open" -- "$REGULA" train --data "csv:$T/nothere.csv" --model "$M" "${OUTS[@]}"
expect 3 "no-such-dir" -- "$REGULA" train --data "idx:$T/no-such-dir" --model "$M" "${OUTS[@]}"
expect 3 "nothere.safetensors: cannot open" -- "$REGULA" eval "${D[@]}" --load "$T/nothere.safetensors"
expect 3 "nothere.safetensors: cannot open" -- "${TR[@]}" --init "$T/nothere.safetensors"
expect 3 "/dev/zero: not a regular file or a pipe" -- "$REGULA" train --data csv:/dev/zero --model "$M" "${OUTS[@]}"
expect 3 "/dev/zero: not a regular file" -- "$REGULA" eval "${D[@]}" --load /dev/zero
expect 3 "$T: cannot read: Is a directory" -- "$REGULA" train --data "csv:$T" --model "$M" "${OUTS[@]}"
expect 3 "$T: cannot read: Is a directory" -- "$REGULA" predict --load "$T/m.safetensors" --input "$T"
# outputs checked before training, not after it: nothing is left, not even the log
expect 3 "--save $O/nodir/x.st: the directory '$O/nodir' does not exist" -- "$REGULA" train "${D[@]}" --model "$M" --log "$LOG" --save "$O/nodir/x.st"
expect 3 "--save-best $O/nodir/b.st: the directory '$O/nodir' does not exist" -- "${TR[@]}" --save-best "$O/nodir/b.st"
expect 3 "--save $T: is a directory" -- "$REGULA" train "${D[@]}" --model "$M" --log "$LOG" --save "$T"
expect 3 "--log $O/nodir/l.jsonl: the directory" -- "$REGULA" train "${D[@]}" --model "$M" --save "$SAVE" --log "$O/nodir/l.jsonl"
expect 3 "--checkpoint-dir $T/d.csv: not a directory" -- "${TR[@]}" --checkpoint-every 2 --checkpoint-dir "$T/d.csv"
expect 3 "--checkpoint-dir $T/no/such: cannot create it" -- "${TR[@]}" --checkpoint-every 2 --checkpoint-dir "$T/no/such"
# regula fed's clients' state on disk: a directory it cannot make its scratch file in, and a full disk (the
# file may not grow past 8 KiB: 90 clients of 67 floats each need 24): exit 3, naming the option and the file
expect 3 "--client-state-dir $T/no/such: cannot create the clients' state file there" -- "${FE[@]}" --clients 5 \
    --algo feddyn --client-state disk --client-state-dir "$T/no/such"
expect 3 "--client-state-dir: writing client 30's state (268 bytes) to the scratch file $T/regula-client-state-" -- bash -c 'ulimit -f 8 && trap "" XFSZ && exec "$@"' full "$REGULA" fed \
    "${D[@]}" --model "$M" --batch 16 --rounds 1 --save "$SAVE" --clients 90 --sample 1 --algo scaffold \
    --client-state disk --client-state-dir "$T"

# IDX: a good set of ten 2x2 images (idx_dir, lib.bash), then broken copies of it.
idx_dir "$T/good"
# the good set trains and predicts (the cases below break one thing at a time)
expect 0 "" -- "$REGULA" train --data "idx:$T/good" --model "$M" --epochs 1
expect 0 "" -- "$REGULA" predict --load "$T/m.safetensors" --input "$T/good/train-images-idx3-ubyte"

category idx-truncated
idx_dir "$T/i1"
idx_images "$T/i1/train-images-idx3-ubyte" 10 2 2 12
expect 3 "i1/train-images-idx3-ubyte: expected 40 bytes of pixels, file ends after 12" -- \
    "$REGULA" train --data "idx:$T/i1" --model "$M" "${OUTS[@]}"
expect 3 "i1/train-images-idx3-ubyte: expected 40 bytes of pixels, file ends after 12" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/i1/train-images-idx3-ubyte"
idx_dir "$T/i2"
idx_labels "$T/i2/train-labels-idx1-ubyte" 10 5
expect 3 "i2/train-labels-idx1-ubyte: expected 10 bytes of labels, file ends after 5" -- \
    "$REGULA" train --data "idx:$T/i2" --model "$M" "${OUTS[@]}"
printf "\\x00\\x00\\x08\\x03$(be32 10)$(be32 2)" >"$T/hdr"
expect 3 "hdr: header declares 3 dims but the file ends after 12 bytes" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/hdr"
printf '\x00\x00' >"$T/magic2"
expect 3 "magic2: file ends after 2 bytes, inside the 4-byte IDX magic" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/magic2"

category idx-corrupt
idx_images "$T/extra" 10 2 2 41
expect 3 "extra: data continues after the 40 bytes of pixels that dims 10x2x2 declare" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/extra"
idx_dir "$T/i3"
idx_labels "$T/i3/train-labels-idx1-ubyte" 9
expect 3 "i3/train-labels-idx1-ubyte: 9 labels but $T/i3/train-images-idx3-ubyte has 10 images" -- \
    "$REGULA" train --data "idx:$T/i3" --model "$M" "${OUTS[@]}"
idx_images "$T/none" 0 2 2
expect 3 "none: dims 0x2x2 hold no samples" -- "$REGULA" predict --load "$T/m.safetensors" --input "$T/none"

category idx-magic
printf 'not an idx file at all' >"$T/junk"
expect 3 "junk: bad magic 0x6e6f7420" -- "$REGULA" predict --load "$T/m.safetensors" --input "$T/junk"
{ printf "\\x01\\x00\\x08\\x03$(be32 1)$(be32 2)$(be32 2)"; printf '\x00\x00\x00\x00'; } >"$T/magic1"
expect 3 "magic1: bad magic 0x01000803" -- "$REGULA" predict --load "$T/m.safetensors" --input "$T/magic1"
{ printf "\\x00\\x00\\x07\\x03$(be32 1)$(be32 2)$(be32 2)"; printf '\x00\x00\x00\x00'; } >"$T/type7"
expect 3 "type7: bad magic 0x00000703" -- "$REGULA" predict --load "$T/m.safetensors" --input "$T/type7"
printf '\x00\x00\x08\x00' >"$T/dims0"
expect 3 "dims0: bad magic 0x00000800" -- "$REGULA" predict --load "$T/m.safetensors" --input "$T/dims0"
idx_dir "$T/i4"
idx_images "$T/i4/train-labels-idx1-ubyte" 10 1 1
expect 3 "i4/train-labels-idx1-ubyte: a label file holds one dim of integers, this one has 3 dims" -- \
    "$REGULA" train --data "idx:$T/i4" --model "$M" "${OUTS[@]}"
expect 3 "(for a CSV file write --input csv:$T/d.csv)" -- "$REGULA" predict --load "$T/m.safetensors" --input "$T/d.csv"

category idx-overflow
printf "\\x00\\x00\\x08\\x04$(be32 4294967295)$(be32 4294967295)$(be32 4294967295)$(be32 4294967295)" >"$T/ovf"
expect 3 "ovf: dims 4294967295x4294967295x4294967295x4294967295 of ubyte are too large" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/ovf"
printf "\\x00\\x00\\x0e\\x03$(be32 4294967295)$(be32 65536)$(be32 65536)" >"$T/ovf2"
expect 3 "ovf2: dims 4294967295x65536x65536 of float64 are too large" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/ovf2"
idx_images "$T/claim" 1000000 2 2 8
expect 3 "claim: expected 4000000 bytes of pixels, file ends after 8" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/claim"
idx_images "$T/claim.raw" 100000 28 28 3000
gzip -n -c "$T/claim.raw" >"$T/claim.gz"
expect 3 "claim.gz: header declares 78400000 bytes of pixels, more than a" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/claim.gz"

# gzip: the good set compressed, then cut or corrupted.
gzdir() {        # gzdir DIR: the good set, gzip-compressed
    mkdir -p "$1"
    gzip -n -c "$T/good/train-images-idx3-ubyte" >"$1/train-images-idx3-ubyte.gz"
    gzip -n -c "$T/good/train-labels-idx1-ubyte" >"$1/train-labels-idx1-ubyte.gz"
}
gzdir "$T/gz"
expect 0 "" -- "$REGULA" predict --load "$T/m.safetensors" --input "$T/gz/train-images-idx3-ubyte.gz"
GZ=$T/gz/train-images-idx3-ubyte.gz
GZN=$(stat -c %s "$GZ")
# poke FILE OFFSET BYTE: overwrite one byte (printf escape form)
poke() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

category gzip-truncated
head -c $((GZN - 8)) "$GZ" >"$T/cut-trailer.gz"
expect 3 "cut-trailer.gz: gzip stream truncated after the data (missing its CRC trailer)" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/cut-trailer.gz"
head -c $((GZN - 20)) "$GZ" >"$T/cut-data.gz"      # 12 bytes short of the 40 pixels
expect 3 "cut-data.gz: expected 40 bytes of pixels, file ends after" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/cut-data.gz"
if grep -qF "(gzip stream truncated)" "$T/err"; then pass=$((pass + 1)); else
    failed=$((failed + 1)); echo "FAIL: cut-data.gz: the message does not say the gzip stream was cut" >&2; fi
head -c 10 "$GZ" >"$T/cut-header.gz"
expect 3 "cut-header.gz: file ends after 0 bytes, inside the 4-byte IDX magic (gzip stream truncated)" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/cut-header.gz"
gzdir "$T/g1"
head -c 20 "$T/gz/train-labels-idx1-ubyte.gz" >"$T/g1/train-labels-idx1-ubyte.gz"
expect 3 "g1/train-labels-idx1-ubyte.gz:" -- "$REGULA" train --data "idx:$T/g1" --model "$M" "${OUTS[@]}"

category gzip-corrupt
cp "$GZ" "$T/crc.gz"
poke "$T/crc.gz" $((GZN - 8)) '\xff'
expect 3 "crc.gz: corrupt gzip data (incorrect data check)" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/crc.gz"
cp "$GZ" "$T/isize.gz"
poke "$T/isize.gz" $((GZN - 4)) '\x07'
expect 3 "isize.gz: corrupt gzip data (incorrect length check)" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/isize.gz"
cp "$GZ" "$T/deflate.gz"
poke "$T/deflate.gz" 10 '\xff'      # first deflate block: type 3 does not exist
expect 3 "deflate.gz: corrupt gzip data (invalid block type) near byte" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/deflate.gz"
gzdir "$T/g2"
L=$T/g2/train-labels-idx1-ubyte.gz
poke "$L" $(($(stat -c %s "$L") - 8)) '\xff'
expect 3 "g2/train-labels-idx1-ubyte.gz: corrupt gzip data (incorrect data check)" -- \
    "$REGULA" train --data "idx:$T/g2" --model "$M" "${OUTS[@]}"

category csv-ragged
printf '0,1,2,3,4\n1,1,2,3,4\n2,1,2\n0,1,2,3,4\n' >"$T/ragged.csv"
expect 3 "ragged.csv: line 3 has 3 columns but line 1 has 5" -- \
    "$REGULA" train --data "csv:$T/ragged.csv" --model "$M" "${OUTS[@]}"
printf '0,1,2,3,4\n1,1,2,3,4,\n' >"$T/comma.csv"
expect 3 "comma.csv: line 2 has 6 columns but line 1 has 5" -- \
    "$REGULA" train --data "csv:$T/comma.csv" --model "$M" "${OUTS[@]}"
printf '1\n2\n' >"$T/one.csv"
expect 3 "one.csv: line 1 has one column; need features and a label" -- \
    "$REGULA" train --data "csv:$T/one.csv" --model "$M" "${OUTS[@]}"

category csv-text
printf '0,1,2,3,4\n1,1,x,3,4\n' >"$T/text.csv"
expect 3 "text.csv: line 2, column 3: not a number: \"x\"" -- \
    "$REGULA" train --data "csv:$T/text.csv" --model "$M" "${OUTS[@]}"
printf 'label,a,b,c,d\n0,1,2,3,4\n' >"$T/head.csv"
expect 3 "head.csv: line 1, column 2: not a number: \"a\" (if line 1 is a header, use --header)" -- \
    "$REGULA" train --data "csv:$T/head.csv" --model "$M" "${OUTS[@]}"
printf '0,1,2,3,4\n1,"1,2,3,4\n' >"$T/quote.csv"
expect 3 "quote.csv: line 2, column 2: the quoted field opened here is never closed" -- \
    "$REGULA" train --data "csv:$T/quote.csv" --model "$M" "${OUTS[@]}"
printf '0,1,2,3,4\n1,"1"2,2,3,4\n' >"$T/after.csv"
expect 3 "after.csv: line 2, column 2: text after the closing quote" -- \
    "$REGULA" train --data "csv:$T/after.csv" --model "$M" "${OUTS[@]}"
printf 'y,a,b,c,d\n0,1,2,3,4\n' >"$T/names.csv"
expect 2 "names.csv: no column named \"label\" in the header (line 1); the columns are \"y\", \"a\", \"b\", \"c\", \"d\"" -- \
    "$REGULA" train --data "csv:$T/names.csv" --header --label-column label --model "$M" "${OUTS[@]}"
expect 2 "--label-column must be a column number >= 0, -1 (the last) or a name, got -5" -- \
    "$REGULA" train --data "csv:$T/names.csv" --header --label-column -5 --model "$M" "${OUTS[@]}"
printf '1\n-1\n1\n' >"$T/weights.txt"
expect 3 "--class-weight $T/weights.txt: line 2: \"-1\" is not a weight (a finite number >= 0)" -- \
    "${TR[@]}" --class-weight "$T/weights.txt"
expect 2 "--test-header: unknown value 'maybe' (expected same, yes or no)" -- \
    "$REGULA" train --data "csv:$T/names.csv" --header --test-header maybe --model "$M" "${OUTS[@]}"
printf '0,1,2,3,4\n1,1,2,3,\n' >"$T/hole.csv"
expect 3 "hole.csv: line 2, column 5: not a number: \"\"" -- \
    "$REGULA" train --data "csv:$T/hole.csv" --model "$M" "${OUTS[@]}"
: >"$T/empty.csv"
expect 3 "empty.csv: no samples (empty file)" -- "$REGULA" train --data "csv:$T/empty.csv" --model "$M" "${OUTS[@]}"

category label-range
expect 3 "d.csv: labels go up to 2 but the model has 2 outputs" -- "${TR[@]}" --model 'dense(4, relu) dense(2, softmax)'
expect 3 "d.csv: labels go up to 2 but the model has 2 outputs" -- "$REGULA" eval "${D[@]}" --load "$T/m2.safetensors"
printf '0,1,2,3,4\n-1,1,2,3,4\n' >"$T/neg.csv"
expect 3 "neg.csv: line 2, column 1: label \"-1\" is not an integer in [0, 16777215]" -- \
    "$REGULA" train --data "csv:$T/neg.csv" --model "$M" "${OUTS[@]}"
printf '0,1,2,3,4\n1.5,1,2,3,4\n' >"$T/frac.csv"
expect 3 "frac.csv: line 2, column 1: label \"1.5\" is not an integer" -- \
    "$REGULA" train --data "csv:$T/frac.csv" --model "$M" "${OUTS[@]}"
printf '0,1,2,3,4\n99999999,1,2,3,4\n' >"$T/big.csv"
expect 3 "big.csv: line 2, column 1: label \"99999999\" is not an integer" -- \
    "$REGULA" train --data "csv:$T/big.csv" --model "$M" "${OUTS[@]}"
idx_dir "$T/i5"
{ printf "\\x00\\x00\\x0c\\x01$(be32 10)"; for i in 1 2 3 4 5 6 7 8 9; do printf '\x00\x00\x00\x01'; done
  printf '\x01\x00\x00\x00'; } >"$T/i5/train-labels-idx1-ubyte"
expect 3 "i5/train-labels-idx1-ubyte: label 16777216 at record 9 is outside [0, 16777215]" -- \
    "$REGULA" train --data "idx:$T/i5" --model "$M" "${OUTS[@]}"

category regression
RG=("$REGULA" train "${D[@]}" --loss mse --model 'dense(4, relu) dense(auto)' --epochs 1 --batch 16 "${OUTS[@]}")
expect 0 "" -- "$REGULA" train "${D[@]}" --loss mae --model 'dense(1)' --epochs 1 --save "$T/reg.safetensors"
printf '0,1,2,3,4\n2.5,1,2,3,4\nbig,1,2,3,4\n' >"$T/tgt.csv"
expect 3 "tgt.csv: line 3, column 1: target \"big\" is not a number" -- \
    "$REGULA" train --data "csv:$T/tgt.csv" --loss mse --model 'dense(1)' "${OUTS[@]}"
expect 3 "tgt.csv: line 3, column 1: target \"big\" is not a number" -- \
    "$REGULA" eval --data "csv:$T/tgt.csv" --load "$T/reg.safetensors"
printf '0,1,2,3,4\ninf,1,2,3,4\n' >"$T/tinf.csv"
expect 3 "tinf.csv: line 2, column 1: target \"inf\" is non-finite" -- \
    "$REGULA" train --data "csv:$T/tinf.csv" --loss mae --model 'dense(1)' "${OUTS[@]}"
expect 2 "--class-weight balanced: weighs classes, and --loss mse is a regression" -- "${RG[@]}" --class-weight balanced
expect 2 "--monitor val_acc: --loss mse is a regression, which has no accuracy" -- "${RG[@]}" --monitor val_acc
expect 2 "--monitor val_mae: the mean absolute error is a regression's" -- "${TR[@]}" --monitor val_mae
expect 2 "--partition dirichlet:0.5: skews or measures the classes among workers" -- "${RG[@]}" --workers 2 \
    --partition dirichlet:0.5
expect 2 "--loss mse: the last layer must be dense(1, linear)" -- "${RG[@]}" --model 'dense(3, softmax)'
expect 2 "dense(auto, sigmoid) is one output for two classes (binary cross-entropy), and the data has 3" -- \
    "${TR[@]}" --model 'dense(4, relu) dense(auto, sigmoid)'
expect 2 "--proba: $T/reg.safetensors is a regression model (--loss mae)" -- \
    "$REGULA" predict --load "$T/reg.safetensors" --input "csv:$T/x.csv" --proba
expect 2 "--top: $T/reg.safetensors is a regression model (--loss mae)" -- \
    "$REGULA" predict --load "$T/reg.safetensors" --input "csv:$T/x.csv" --top 1
expect 2 "--metrics: $T/reg.safetensors is a regression model (--loss mae)" -- \
    "$REGULA" eval "${D[@]}" --load "$T/reg.safetensors" --metrics
expect 4 "" -- "${RG[@]}" --optimizer sgd --lr 1e30

category nonfinite
printf '0,1,2,3,4\n1,1,nan,3,4\n' >"$T/nan.csv"
expect 3 "nan.csv: line 2, column 3: non-finite value \"nan\"" -- \
    "$REGULA" train --data "csv:$T/nan.csv" --model "$M" "${OUTS[@]}"
printf '0,1,2,3,4\n1,1,2,-inf,4\n' >"$T/inf.csv"
expect 3 "inf.csv: line 2, column 4: non-finite value \"-inf\"" -- \
    "$REGULA" train --data "csv:$T/inf.csv" --model "$M" "${OUTS[@]}"
printf '0,1,2,3,4\n1,1,2,1e39,4\n' >"$T/f32.csv"
expect 3 "f32.csv: line 2, column 4: value \"1e39\" is out of float32 range" -- \
    "$REGULA" train --data "csv:$T/f32.csv" --model "$M" "${OUTS[@]}"
printf '1,2,3,4\nnan,1,1,1\n' >"$T/pnan.csv"
expect 3 "pnan.csv: line 2, column 1: non-finite value \"nan\"" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "csv:$T/pnan.csv"
# float32 IDX images, 2 samples of 4: one NaN, then one Inf
one='\x3f\x80\x00\x00'
printf "\\x00\\x00\\x0d\\x02$(be32 2)$(be32 4)$one$one$one\\x7f\\xc0\\x00\\x00$one$one$one$one" >"$T/fnan"
expect 3 "fnan: non-finite value nan at record 0, feature 3" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/fnan"
printf "\\x00\\x00\\x0d\\x02$(be32 2)$(be32 4)$one$one$one$one$one\\xff\\x80\\x00\\x00$one$one" >"$T/finf"
expect 3 "finf: non-finite value -inf at record 1, feature 1" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "$T/finf"

# --- safetensors checkpoints, hand-made: the metadata and four tensors of
# $M on 4 inputs, zero weights; each case breaks one thing.
META='"__metadata__":{"format":"regula-1","spec":"dense(8, relu) dense(3, softmax)","inputs":"4"}'
W0=$(st_tensor dense_0.weight F32 8,4 0,128)
B0=$(st_tensor dense_0.bias F32 8 128,160)
W1=$(st_tensor dense_1.weight F32 3,8 160,256)
B1=$(st_tensor dense_1.bias F32 3 256,268)
st_file "$T/ok.safetensors" "{$META,$W0,$B0,$W1,$B1}" 268
expect 0 "" -- "$REGULA" eval "${D[@]}" --load "$T/ok.safetensors"
expect 0 "" -- "${TR[@]}" --init "$T/ok.safetensors"
EV=("$REGULA" eval "${D[@]}" --load)

category st-header
head -c 100 "$T/m.safetensors" >"$T/trunc.safetensors"
expect 3 "trunc.safetensors: header length" -- "${EV[@]}" "$T/trunc.safetensors"
expect 3 "trunc.safetensors: header length" -- "$REGULA" predict --load "$T/trunc.safetensors" --input "csv:$T/x.csv"
expect 3 "trunc.safetensors: header length" -- "${TR[@]}" --init "$T/trunc.safetensors"
{ printf "$(le64 -1)"; printf '{}'; } >"$T/hlen-max.safetensors"
expect 3 "hlen-max.safetensors: header length 18446744073709551615 exceeds the limit of 100000000 bytes" -- \
    "${EV[@]}" "$T/hlen-max.safetensors"
{ printf "$(le64 100000001)"; printf '{}'; } >"$T/hlen-cap.safetensors"
expect 3 "hlen-cap.safetensors: header length 100000001 exceeds the limit" -- "${EV[@]}" "$T/hlen-cap.safetensors"
{ printf "$(le64 5000)"; printf '{}'; } >"$T/hlen-past.safetensors"
expect 3 "hlen-past.safetensors: header length 5000 but only 2 bytes follow" -- "${EV[@]}" "$T/hlen-past.safetensors"
printf 'abc' >"$T/tiny.safetensors"
expect 3 "tiny.safetensors: file has 3 bytes, too short for a safetensors header" -- "${EV[@]}" "$T/tiny.safetensors"
st_file "$T/json.safetensors" "{$META,$W0,$B0,$W1,$B1" 268
expect 3 "json.safetensors: header is not valid JSON" -- "${EV[@]}" "$T/json.safetensors"

category st-offsets
st_file "$T/oor.safetensors" "{$META,$W0,$B0,$W1,$(st_tensor dense_1.bias F32 3 300,312)}" 268
expect 3 "oor.safetensors: tensor 'dense_1.bias': data_offsets [300, 312] run past the end of the data, which has 268 bytes" -- \
    "${EV[@]}" "$T/oor.safetensors"
expect 3 "oor.safetensors: tensor 'dense_1.bias': data_offsets [300, 312] run past the end" -- \
    "${TR[@]}" --init "$T/oor.safetensors"
st_file "$T/backw.safetensors" "{$META,$W0,$B0,$W1,$(st_tensor dense_1.bias F32 3 268,256)}" 268
expect 3 "backw.safetensors: tensor 'dense_1.bias': data_offsets [268, 256] end before they begin" -- \
    "${EV[@]}" "$T/backw.safetensors"

category st-overlap
st_file "$T/overlap.safetensors" "{$META,$W0,$(st_tensor dense_0.bias F32 8 120,152),$W1,$B1}" 268
expect 3 "overlap.safetensors: tensors 'dense_0.weight' [0, 128] and 'dense_0.bias' [120, 152] overlap" -- \
    "${EV[@]}" "$T/overlap.safetensors"
st_file "$T/alias.safetensors" "{$META,$W0,$B0,$W1,$B1,$(st_tensor dense_1.bias2 F32 3 256,268)}" 268
expect 3 "alias.safetensors: tensors 'dense_1.bias' [256, 268] and 'dense_1.bias2' [256, 268] overlap" -- \
    "${TR[@]}" --init "$T/alias.safetensors"

category st-dtype
st_file "$T/f64.safetensors" "{$META,$W0,$(st_tensor dense_0.bias F64 4 128,160),$W1,$B1}" 268
expect 3 "f64.safetensors: tensor 'dense_0.bias' has dtype F64, regula reads only F32" -- "${EV[@]}" "$T/f64.safetensors"
expect 3 "f64.safetensors: tensor 'dense_0.bias' has dtype F64, regula reads only F32" -- "${TR[@]}" --init "$T/f64.safetensors"
st_file "$T/f33.safetensors" "{$META,$W0,$(st_tensor dense_0.bias F33 8 128,160),$W1,$B1}" 268
expect 3 "f33.safetensors: tensor 'dense_0.bias': unknown dtype \"F33\"" -- "${EV[@]}" "$T/f33.safetensors"

category st-shape
st_file "$T/transp.safetensors" "{$META,$(st_tensor dense_0.weight F32 4,8 0,128),$B0,$W1,$B1}" 268
expect 3 "transp.safetensors: tensor 'dense_0.weight' has shape [4, 8], the model expects [8, 4]" -- \
    "${EV[@]}" "$T/transp.safetensors"
st_file "$T/size.safetensors" "{$META,$(st_tensor dense_0.weight F32 8,5 0,128),$B0,$W1,$B1}" 268
expect 3 "size.safetensors: tensor 'dense_0.weight': data_offsets [0, 128] but shape [8, 5] of F32 needs 160 bytes" -- \
    "${EV[@]}" "$T/size.safetensors"
# 67108896 * 4398044413953 * 4 = 2^70 + 128: wraps around 2^64 to exactly the 128 bytes given
st_file "$T/wrap.safetensors" "{$META,$(st_tensor dense_0.weight F32 67108896,4398044413953 0,128),$B0,$W1,$B1}" 268
expect 3 "wrap.safetensors: tensor 'dense_0.weight': shape [67108896, 4398044413953] of F32 overflows" -- \
    "${EV[@]}" "$T/wrap.safetensors"

category st-arch
expect 3 "m.safetensors: tensor 'dense_0.weight' has shape [8, 4], the model expects [5, 4]" -- \
    "${TR[@]}" --model 'dense(5, relu) dense(3, softmax)' --init "$T/m.safetensors"
expect 3 "m5.safetensors: tensor 'dense_0.weight' has shape [8, 5], the model expects [8, 4]" -- \
    "${TR[@]}" --init "$T/m5.safetensors"
expect 3 "d.csv: samples have 4 features but the model takes 5 inputs" -- "${EV[@]}" "$T/m5.safetensors"
expect 3 "d5.csv: samples have 5 features but the model takes 4 inputs" -- \
    "$REGULA" eval --load "$T/m.safetensors" --data "csv:$T/d5.csv"
expect 3 "d.csv: samples have 5 features but the model takes 4 inputs (predict reads every CSV column as a feature" -- \
    "$REGULA" predict --load "$T/m.safetensors" --input "csv:$T/d.csv"
expect 3 "samples have 4 features but the model takes 5 inputs" -- \
    "$REGULA" predict --load "$T/m5.safetensors" --input "csv:$T/x.csv"
META5='"__metadata__":{"format":"regula-1","spec":"dense(5, relu) dense(3, softmax)","inputs":"4"}'
st_file "$T/spec.safetensors" "{$META5,$W0,$B0,$W1,$B1}" 268
expect 3 "spec.safetensors: tensor 'dense_0.weight' has shape [8, 4], the model expects [5, 4]" -- \
    "${EV[@]}" "$T/spec.safetensors"
st_file "$T/missing.safetensors" "{$META,$W0,$B0,$W1}" 256
expect 3 "missing.safetensors: tensor 'dense_1.bias' is missing" -- "${EV[@]}" "$T/missing.safetensors"
st_file "$T/more.safetensors" "{$META,$W0,$B0,$W1,$B1,$(st_tensor dense_2.weight F32 1 268,272)}" 272
expect 3 "more.safetensors: 1 tensor is not in the model ('dense_2.weight'): a checkpoint of another architecture?" -- \
    "${TR[@]}" --init "$T/more.safetensors"
st_file "$T/plain.safetensors" "{$W0,$B0,$W1,$B1}" 268
expect 3 "plain.safetensors: no \"format\" in the metadata: not a regula checkpoint" -- "${EV[@]}" "$T/plain.safetensors"

category nonfinite
{ h="{$META,$W0,$B0,$W1,$B1}"; printf "$(le64 ${#h})%s\\x00\\x00\\xc0\\x7f" "$h"; head -c 264 /dev/zero; } >"$T/nanw.safetensors"
expect 3 "nanw.safetensors: tensor 'dense_0.weight' element 0 is NaN" -- "${EV[@]}" "$T/nanw.safetensors"
expect 3 "nanw.safetensors: tensor 'dense_0.weight' element 0 is NaN" -- "${TR[@]}" --init "$T/nanw.safetensors"

# --- a diverging run stops with exit 4, writes no checkpoint, logs why
category diverge
expect 4 "" -- "${TR[@]}" --optimizer sgd --lr 1e30 --epochs 3
if grep -q '"end"' "$LOG" 2>/dev/null; then pass=$((pass + 1)); else
    failed=$((failed + 1)); echo "FAIL: the diverging run's log has no end event" >&2; fi

# --- extreme values: each has a defined outcome (exit 0 means finite weights
# and optimizer state: the run checks them before it ends)
category extreme
with_feature() { sed "5s/^\([0-9]\),[^,]*,/\1,$2,/" "$T/d.csv" >"$1"; }
for v in 3e38 1e30 1e25 1e22; do
    with_feature "$T/x$v.csv" "$v"
    expect 4 "non-finite loss or gradient at step 2 (epoch 1, worker 0) (an element beyond 9.22e+18 counts" -- \
        "$REGULA" train --data "csv:$T/x$v.csv" --model "$M" --epochs 2 --batch 16 "${OUTS[@]}"
done
expect 4 "non-finite loss or gradient at step" -- \
    "$REGULA" train --data "csv:$T/x3e38.csv" --model "$M" --epochs 2 --batch 16 --workers 2 "${OUTS[@]}"
expect 0 "" -- "$REGULA" train --data "csv:$T/x3e38.csv" --model "$M" --epochs 2 --batch 16 --skip-nonfinite "${OUTS[@]}"
if [ "$(grep -c '"event":"skip"' "$LOG")" = 2 ] && [ -s "$SAVE" ]; then pass=$((pass + 1)); ncase[extreme]=$((${ncase[extreme]:-0} + 1)); else
    failed=$((failed + 1)); echo "FAIL [extreme]: --skip-nonfinite over 3e38 features: $(grep -c '"skip"' "$LOG") skips" >&2; fi
with_feature "$T/x1e20.csv" 1e20
expect 0 "" -- "$REGULA" train --data "csv:$T/x1e20.csv" --model "$M" --epochs 2 --batch 16 --clip-norm 1 "${OUTS[@]}"
with_feature "$T/x1e15.csv" 1e15
expect 0 "" -- "$REGULA" train --data "csv:$T/x1e15.csv" --model "$M" --epochs 2 --batch 16 "${OUTS[@]}"
awk -F, -v OFS=, '{ for (j = 2; j <= NF; j++) $j = $j * 1e-39; print }' "$T/d.csv" >"$T/sub.csv"
expect 0 "" -- "$REGULA" train --data "csv:$T/sub.csv" --model "$M" --epochs 1 --save "$T/sub.safetensors"
cut -d, -f2- "$T/sub.csv" >"$T/subx.csv"
expect 0 "" -- "$REGULA" predict --load "$T/sub.safetensors" --input "csv:$T/subx.csv"
# weights of 1e30: the second layer's sums pass FLT_MAX
big='\xca\xf2\x49\x71'   # 1e30, little-endian
{ h="{$META,$W0,$B0,$W1,$B1}"; printf "$(le64 ${#h})%s" "$h"; for i in $(seq 32); do printf "$big"; done
  head -c 32 /dev/zero; for i in $(seq 24); do printf "$big"; done; head -c 12 /dev/zero; } >"$T/huge.safetensors"
expect 4 "the model's outputs are not finite (NaN or infinite)" -- "${EV[@]}" "$T/huge.safetensors"
expect 4 "the model's outputs are not finite (NaN or infinite)" -- \
    "$REGULA" predict --load "$T/huge.safetensors" --input "csv:$T/x.csv"

summary=""
for c in "${REQUIRED[@]}"; do
    summary+=" $c=${ncase[$c]:-0}"
    if [ "${ncase[$c]:-0}" -eq 0 ]; then
        failed=$((failed + 1))
        echo "FAIL: category $c has no passing case" >&2
    fi
done
echo "cli_errors: cases per category:$summary"
echo "cli_errors: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
