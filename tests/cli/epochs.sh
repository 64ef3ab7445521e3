# epochs.sh — what a run keeps of its epochs (issue 14): --save-best (the
# best epoch's model, bitwise the model of a run that stopped there; by the
# validation set, or by the training figures without one; kept right
# across a kill and --resume), --checkpoint-every-epoch (beside
# --checkpoint-every N: which checkpoints there are, and --keep), and a
# finished run extended with more --epochs from its checkpoint (the same
# bits as a run that had them from the start, when the schedule does not
# depend on the run's length; refused, saying why, when it does).  The
# kills and resumes within an epoch: resume.sh.
# Run as: bash epochs.sh REGULA_BIN DATA_DIR
set -u
# shellcheck source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: epochs.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
# end_field FIELD LOG: the end event's FIELD
not() { ! "$@"; }
end_field() { grep '"event":"end"' "$2" | grep -o "\"$1\":[0-9.]*" | cut -d: -f2; }

# 300 samples, 12 features, 3 classes, 3 in 10 labels drawn at random: the
# validation loss goes up and down, so the best epoch is not the last
awk 'BEGIN { srand(11); for (i = 0; i < 300; i++) { c = i % 3; if (rand() < 0.3) c = int(rand() * 3); line = c;
  for (j = 0; j < 12; j++) line = line "," ((j % 3 == i % 3 ? 1.2 : 0) + rand() * 2 - 1); print line } }' >"$T/n.csv"
C=(--data "csv:$T/n.csv" --val-split 0.2 --model 'dense(32, relu) dense(3, softmax)' --batch 16 --lr 0.05
   --optimizer sgd --momentum 0.9 --seed 3 --log-every 0 --progress none)

# --- --save-best: the model of the epoch with the best val_loss, which is
# the model of a run of that many epochs
mkdir "$T/b"
run 0 -- "$REGULA" train "${C[@]}" --epochs 8 --save-best "$T/b/best.st" --save "$T/b/last.st" --log "$T/b.jsonl"
best=$(end_field best_epoch "$T/b.jsonl")
want=$(grep '"event":"epoch"' "$T/b.jsonl" | grep -o '"epoch":[0-9]*\|"val_loss":[0-9.]*' | paste - - |
       sed 's/"epoch"://; s/"val_loss"://' | sort -g -k2,2 -s | head -1 | cut -f1)
check "the end event's best_epoch ($best) has the lowest val_loss (epoch $want), and is not the last" \
    test "$best" = "$want" -a "$best" -lt 8
check "says where the best epoch went" grep -q "the best epoch, $best, is in $T/b/best.st" "$T/err"
check "only the two models in the directory (no temporary left)" test "$(ls "$T/b" | tr '\n' ' ')" = "best.st last.st "
run 0 -- "$REGULA" train "${C[@]}" --epochs "$best" --save "$T/upto.st"
check "--save-best is bitwise the model of a run of $best epochs" cmp -s "$T/b/best.st" "$T/upto.st"
check "... and not the last one" not cmp -s "$T/b/best.st" "$T/b/last.st"
# with early stopping, which restores the same epoch's weights
run 0 -- "$REGULA" train "${C[@]}" --epochs 20 --early-stop 3 --save-best "$T/es-best.st" --save "$T/es.st"
check "with --early-stop: the restored model and --save-best's are the same bits" cmp -s "$T/es-best.st" "$T/es.st"
check "... the same best epoch" cmp -s "$T/es-best.st" "$T/b/best.st"
# --monitor val_acc: the first epoch of the highest accuracy
run 0 -- "$REGULA" train "${C[@]}" --epochs 8 --monitor val_acc --save-best "$T/acc.st" --log "$T/acc.jsonl"
want=$(grep '"event":"epoch"' "$T/acc.jsonl" | grep -o '"epoch":[0-9]*\|"val_acc":[0-9.]*' | paste - - |
       sed 's/"epoch"://; s/"val_acc"://' | sort -g -r -k2,2 -s | head -1 | cut -f1)
check "--monitor val_acc: the epoch of the highest val_acc ($want)" test "$(end_field best_epoch "$T/acc.jsonl")" = "$want"
check "--monitor with --save-best is not idle: no warning" not grep -q "warning: --monitor" "$T/err"

# without a validation set: by the epoch's training loss, said on stderr
NV=("${C[@]:0:1}" "${C[@]:1:1}" "${C[@]:4}")   # C without --val-split 0.2
run 0 -- "$REGULA" train "${NV[@]}" --epochs 5 --save-best "$T/nv.st" --log "$T/nv.jsonl"
best=$(end_field best_epoch "$T/nv.jsonl")
want=$(grep '"event":"epoch"' "$T/nv.jsonl" | grep -o '"epoch":[0-9]*,"loss":[0-9.]*' | sed 's/"epoch"://; s/,"loss":/\t/' |
       sort -g -k2,2 -s | head -1 | cut -f1)
check "no validation set: the epoch of the lowest training loss ($want), not the last" test "$best" = "$want" -a "$best" -lt 5
check "no validation set: a note says what best means" grep -q "note: --save-best without a validation set picks the epoch of the best training loss" "$T/err"
run 0 -- "$REGULA" train "${NV[@]}" --epochs "$best" --save "$T/nv-upto.st"
check "no validation set: bitwise the model of a run of $best epochs" cmp -s "$T/nv.st" "$T/nv-upto.st"

# a kill after the best epoch and --resume: the best figure comes back with
# the checkpoint, so a later, worse epoch does not overwrite the file
mkdir "$T/k"
(RG_TEST_CRASH=step:80 exec "$REGULA" train "${C[@]}" --epochs 8 --save-best "$T/k/best.st" --checkpoint-every-epoch \
    --checkpoint-dir "$T/k/ck" >/dev/null 2>&1)
check "the run was killed (at step 80 of 120), after its best epoch was written" test ! -e "$T/k/last.st" -a -s "$T/k/best.st"
run 0 -- "$REGULA" train "${C[@]}" --epochs 8 --save-best "$T/k/best.st" --checkpoint-every-epoch --resume "$T/k/ck" \
    --save "$T/k/last.st"
check "killed and resumed: --save-best bitwise the uninterrupted run's" cmp -s "$T/k/best.st" "$T/b/best.st"
check "killed and resumed: the final model too" cmp -s "$T/k/last.st" "$T/b/last.st"

# --- --checkpoint-every-epoch, alone and beside --checkpoint-every N
# (15 steps an epoch, 4 epochs: ends at steps 15, 30, 45, 60)
ck() { (cd "$1" && ls ckpt-*.safetensors | sed 's/ckpt-0*//; s/\.safetensors//' | tr '\n' ' '); }
run 0 -- "$REGULA" train "${C[@]}" --epochs 4 --checkpoint-every-epoch --checkpoint-dir "$T/e1" --keep 10 --save "$T/e1.st"
check "--checkpoint-every-epoch: one at each epoch's end" test "$(ck "$T/e1")" = "15 30 45 60 "
"$REGULA" eval --data "csv:$T/n.csv" --load "$T/e1.st" >"$T/ev1" 2>&1
"$REGULA" eval --data "csv:$T/n.csv" --load "$T/e1/ckpt-000000000060.safetensors" >"$T/ev2" 2>&1
check "the last epoch's checkpoint holds the final model" cmp -s "$T/ev1" "$T/ev2"
run 0 -- "$REGULA" train "${C[@]}" --epochs 4 --checkpoint-every-epoch --checkpoint-every 20 --checkpoint-dir "$T/e2" --keep 10
check "beside --checkpoint-every 20: both kinds" test "$(ck "$T/e2")" = "15 20 30 40 45 60 "
run 0 -- "$REGULA" train "${C[@]}" --epochs 4 --checkpoint-every-epoch --checkpoint-every 10 --checkpoint-dir "$T/e3" --keep 10
check "beside --checkpoint-every 10: a step that is both has one" test "$(ck "$T/e3")" = "10 15 20 30 40 45 50 60 "
check "the epoch's end and every 10th step: the same file" cmp -s "$T/e1/ckpt-000000000030.safetensors" "$T/e3/ckpt-000000000030.safetensors"
run 0 -- "$REGULA" train "${C[@]}" --epochs 4 --checkpoint-every-epoch --checkpoint-every 20 --checkpoint-dir "$T/e4" --keep 2
check "--keep 2 keeps the newest two of either kind" test "$(ck "$T/e4")" = "45 60 "
run 2 -- "$REGULA" train "${C[@]}" --epochs 1 --checkpoint-every-epoch
check "--checkpoint-every-epoch without a directory" grep -q -- "--checkpoint-every-epoch needs --checkpoint-dir (or --resume DIR)" "$T/err"

# --- a finished run extended: 2 epochs, then --resume with --epochs 3,
# gives the bits of 3 epochs straight through (the final model and the
# last checkpoint) when the schedule does not depend on --epochs
# extend NAME ARGS...: runs 3 epochs straight, 2 then 3 resumed; compares
extend() {
    local name=$1 d=$T/x-$1
    shift
    mkdir -p "$d"
    "$REGULA" train "${C[@]}" "$@" --epochs 3 --checkpoint-dir "$d/a" --save "$d/a.st" >/dev/null 2>"$d/a.err" &&
        "$REGULA" train "${C[@]}" "$@" --epochs 2 --checkpoint-dir "$d/b" --save "$d/b2.st" >/dev/null 2>"$d/b2.err" ||
        { bad "$name: a run failed: $(cat "$d"/*.err)"; return; }
    if ! "$REGULA" train "${C[@]}" "$@" --epochs 3 --resume "$d/b" --save "$d/b.st" --log "$d/b.jsonl" >/dev/null 2>"$d/b.err"; then
        bad "$name: extending to 3 epochs failed: $(cat "$d/b.err")"
        return
    fi
    local last
    last=$(cd "$d/a" && ls ckpt-*.safetensors | tail -1)
    if ! grep -q '"event":"resume"' "$d/b.jsonl"; then bad "$name: not resumed (no resume event)"
    elif ! cmp -s "$d/a.st" "$d/b.st"; then bad "$name: the extended run's model differs from 3 epochs straight"
    elif cmp -s "$d/a.st" "$d/b2.st"; then bad "$name: the 2-epoch model is the 3-epoch one (a test that cannot fail)"
    elif ! cmp -s "$d/a/$last" "$d/b/$last"; then bad "$name: checkpoint $last differs"
    else ok "$name: 2 epochs extended to 3: the model and $last bitwise those of 3 epochs straight"; fi
}
extend constant --checkpoint-every-epoch
extend step_warmup --checkpoint-every-epoch --lr-schedule step --lr-step-epochs 1 --lr-gamma 0.5 --warmup 20
extend mid_epoch --checkpoint-every 7                       # the last checkpoint at step 28 of 30
extend early_stop --checkpoint-every-epoch --early-stop 5 --save-best "$T/x-best.st"
extend threads --checkpoint-every-epoch --workers 2 --optimizer adam --lr 0.01

# cosine decays over the whole run: refused, saying why; nothing written
d=$T/cos
"$REGULA" train "${C[@]}" --lr-schedule cosine --epochs 2 --checkpoint-every-epoch --checkpoint-dir "$d" >/dev/null 2>&1
before=$(ls "$d")
run 2 -- "$REGULA" train "${C[@]}" --lr-schedule cosine --epochs 3 --resume "$d" --save "$T/cos.st"
check "cosine, more epochs: refused, saying why" grep -q -- "was trained with --epochs 2, this run has 3; --lr-schedule cosine spreads its decay over the whole run" "$T/err"
check "cosine: nothing saved, the checkpoints untouched" test ! -e "$T/cos.st" -a "$(ls "$d")" = "$before"
run 0 -- "$REGULA" train "${C[@]}" --lr-schedule cosine --epochs 2 --resume "$d" --save "$T/cos.st"
check "cosine, the same --epochs: resumes" test -s "$T/cos.st"
# fewer epochs than the checkpoint has done
run 2 -- "$REGULA" train "${C[@]}" --epochs 1 --resume "$T/x-constant/b" --save "$T/one.st"
check "fewer epochs than done: refused" grep -q -- "is in epoch 3, past --epochs 1: a resumed run goes on from its checkpoint (give --epochs 3 or more)" "$T/err"
finish
