#!/usr/bin/env bash
# Study: federated learning under label skew (issue 12), the runs behind
# docs/study-federated.md.  Fashion-MNIST over 100 simulated clients, 10%
# of them a round, partitions dirichlet:0.1, dirichlet:0.5 and iid, the
# reference model trained by each client with SGD.  Parts:
#
#   sweep     seed 1 only: FedProx at each μ of MUS, and the --mu-adapt
#             policies (size, skew, divergence) at the default μ (not on
#             iid: nothing to adapt to); the μ
#             with the best mean accuracy over the last 10 rounds becomes
#             each partition's FedProx and adaptive μ in part main.
#   main      every seed: fedavg, fedprox (tuned μ), scaffold, feddyn,
#             fedadam (--server-lr FEDADAM_LR) and fedprox with
#             --mu-adapt POLICY (skew) at the tuned μ.
#   adapt     every seed, the skewed partitions: FedProx at ADAPT_MU (1),
#             where the proximal term binds, uniform against each
#             --mu-adapt policy (size, skew, divergence).
#   scope     every seed, dirichlet:0.1 and iid: fedavg, scaffold, feddyn,
#             fedadam under --reg-scope local (each client's loss carries
#             the L2 penalty) instead of the server's penalty step.
#   attack    sign-flip attackers (10% and 20% of the clients) against
#             --aggregate mean, median, trimmed:B, krum:3 on ATTACK_PARTS,
#             with 10 clients a round (krum:3 is the most Krum allows with
#             n = 10: n >= 2F+3; krum:4's refusal is kept in
#             DIR/krum-refusal.txt), and each rule without attackers.
#   attack20  the same at --sample 0.2 (20 clients a round), iid, with
#             krum:6, 20% attackers only, beside the clean mean.
#   dp        DP-FedAvg: --dp-clip DP_CLIP at each --dp-noise of NOISES, iid,
#             beside the same run without DP.
#
# Usage: bench/study_fed.sh BUILD_DIR [SCALE]
#   SCALE full  (the committed doc): 120 rounds (60 for attack and dp), seeds 1 2 3
#         quick 30 rounds (20), seed 1: a look in a few minutes
#         smoke 3 rounds, seed 1, 2 partitions: seconds, for
#               ctest (give DATA and MODEL: the test's own small data)
# Environment (each overrides the scale's): DIR (the logs; default
# BUILD_DIR/study-fed-SCALE), PARTS ("sweep main adapt scope attack attack20 dp"),
# APPEND (1: add to DIR's runs.txt and commands.txt rather than start them
# anew, to run a part on its own beside the others' logs), ADAPT_MU (1),
# DATA (fashion-mnist), MODEL (the README's reference model), CLIENTS
# (100), ROUNDS, ATTACK_ROUNDS, SEEDS, PARTITIONS ("dirichlet:0.1
# dirichlet:0.5 iid"), ATTACK_PARTS ("iid dirichlet:0.5"), MUS ("0.001
# 0.01 0.1 1"), POLICY (skew), FEDADAM_LR (0.01), NOISES ("0 0.01 0.03 0.1
# 0.3 1 2 4"), DP_CLIP (0.5), WORKERS (2), FED_ARGS (added to every run).
# Writes DIR/*.jsonl (the raw logs, PART_PARTITION_LABEL_sSEED.jsonl),
# DIR/runs.txt (their order), DIR/commands.txt (each run's command line),
# DIR/tables.md (bench/fed_table.sh DIR, also printed).
set -euo pipefail
build=${1:?usage: bench/study_fed.sh BUILD_DIR [full|quick|smoke]}
scale=${2:-full}
here=$(cd "$(dirname "$0")" && pwd)
bin=${REGULA:-$build/regula}
case $scale in
full)  r=120 ra=60 sd="1 2 3" cl=100 pa="dirichlet:0.1 dirichlet:0.5 iid" ;;
quick) r=30 ra=20 sd=1 cl=100 pa="dirichlet:0.1 dirichlet:0.5 iid" ;;
smoke) r=3 ra=3 sd=1 cl=100 pa="dirichlet:0.1 iid" ;;
*) echo "study_fed: scale $scale: expected full, quick or smoke" >&2; exit 2 ;;
esac
rounds=${ROUNDS:-$r} arounds=${ATTACK_ROUNDS:-$ra} seeds=${SEEDS:-$sd} clients=${CLIENTS:-$cl}
partitions=${PARTITIONS:-$pa} attack_parts=${ATTACK_PARTS:-iid dirichlet:0.5}
parts=${PARTS:-sweep main adapt scope attack attack20 dp}
data=${DATA:-fashion-mnist}
model=${MODEL:-dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)}
mus=${MUS:-0.001 0.01 0.1 1} policy=${POLICY:-skew} adam_lr=${FEDADAM_LR:-0.01}
noises=${NOISES:-0 0.01 0.03 0.1 0.3 1 2 4} clip=${DP_CLIP:-0.5} workers=${WORKERS:-2}
dir=${DIR:-$build/study-fed-$scale}
mkdir -p "$dir"
[ "${APPEND:-0}" = 1 ] || { : > "$dir/runs.txt"; : > "$dir/commands.txt"; }
touch "$dir/runs.txt" "$dir/commands.txt"
[ -x "$bin" ] || { echo "study_fed: $bin: no regula program (build first)" >&2; exit 2; }

short() { sed 's/dirichlet:/dir/; s/:/-/g' <<<"$1"; }

# run PART PARTITION LABEL SEED ROUNDS ARGS...: one regula fed run, its log
# DIR/PART_PARTITION_LABEL_sSEED.jsonl.  A failed run stops the study.
run() {
  local part=$1 partition=$2 label=$3 seed=$4 nr=$5; shift 5
  local name; name=${part}_$(short "$partition")_${label}_s$seed.jsonl
  local -a cmd=("$bin" fed --data "$data" --model "$model" --optimizer sgd --lr 0.05 --batch 32
                --clients "$clients" --sample 0.1 --partition "$partition" --rounds "$nr" --local-epochs 1
                --seed "$seed" --workers "$workers" --log-every 0 --progress none --log "$dir/$name" "$@")
  # shellcheck disable=SC2206
  [ -n "${FED_ARGS:-}" ] && cmd+=($FED_ARGS)
  printf '%q ' "${cmd[@]}" | sed 's/ $/\n/' >> "$dir/commands.txt"
  rm -f "$dir/$name"
  if ! "${cmd[@]}" > "$dir/out.txt" 2> "$dir/err.txt"; then
    echo "study_fed: $name failed: $(grep -v warning "$dir/err.txt" | tail -1)" >&2; exit 1
  fi
  grep -qxF "$name" "$dir/runs.txt" || echo "$name" >> "$dir/runs.txt"    # a rerun replaces its log
}

# best_mu PARTITION: the μ of the sweep with the best last-10 mean on seed 1.
best_mu() {
  local p m best=0.01 top=-1 v
  p=$(short "$1")
  for m in $mus; do
    [ -f "$dir/sweep_${p}_fedprox-mu${m}_s1.jsonl" ] || continue
    v=$("$here/fed_table.sh" metrics "$dir/sweep_${p}_fedprox-mu${m}_s1.jsonl" | awk '{ print $5 }')
    if awk -v v="$v" -v t="$top" 'BEGIN { exit !(v != "nan" && v > t) }'; then top=$v best=$m; fi
  done
  echo "$best"
}

for part in $parts; do
  case $part in
  sweep)
    for p in $partitions; do
      for m in $mus; do run sweep "$p" "fedprox-mu$m" 1 "$rounds" --algo fedprox --mu "$m"; done
      [ "$p" = iid ] && continue    # no skew to adapt to
      for pol in size skew divergence; do
        run sweep "$p" "adaptive-$pol-mu0.01" 1 "$rounds" --algo fedprox --mu 0.01 --mu-adapt "$pol"
      done
    done ;;
  main)
    for p in $partitions; do
      mu=$(best_mu "$p")
      echo "study_fed: $p: fedprox mu $mu" >&2
      for s in $seeds; do
        run main "$p" fedavg "$s" "$rounds" --algo fedavg
        run main "$p" "fedprox-mu$mu" "$s" "$rounds" --algo fedprox --mu "$mu"
        run main "$p" scaffold "$s" "$rounds" --algo scaffold
        run main "$p" feddyn "$s" "$rounds" --algo feddyn
        run main "$p" "fedadam-lr$adam_lr" "$s" "$rounds" --algo fedadam --server-lr "$adam_lr"
        run main "$p" "adaptive-$policy-mu$mu" "$s" "$rounds" --algo fedprox --mu "$mu" --mu-adapt "$policy"
      done
    done ;;
  adapt)
    amu=${ADAPT_MU:-1}
    for p in $partitions; do
      [ "$p" = iid ] && continue    # no skew to adapt to
      for s in $seeds; do
        run adapt "$p" "uniform-mu$amu" "$s" "$rounds" --algo fedprox --mu "$amu"
        for pol in size skew divergence; do
          run adapt "$p" "$pol-mu$amu" "$s" "$rounds" --algo fedprox --mu "$amu" --mu-adapt "$pol"
        done
      done
    done ;;
  scope)
    for p in $partitions; do
      [ "$p" = dirichlet:0.5 ] && continue    # the two ends suffice
      for s in $seeds; do
        run scope "$p" fedavg-local "$s" "$rounds" --algo fedavg --reg-scope local
        run scope "$p" scaffold-local "$s" "$rounds" --algo scaffold --reg-scope local
        run scope "$p" feddyn-local "$s" "$rounds" --algo feddyn --reg-scope local
        run scope "$p" "fedadam-lr$adam_lr-local" "$s" "$rounds" --algo fedadam --server-lr "$adam_lr" --reg-scope local
      done
    done ;;
  attack)
    # Krum's guarantee needs n >= 2F+3: with 10 clients a round, krum:4 is refused.
    rc=0
    "$bin" fed --data "$data" --model "$model" --clients "$clients" --sample 0.1 --rounds 1 \
      --aggregate krum:4 --progress none > /dev/null 2> "$dir/krum-refusal.txt" || rc=$?
    echo "exit $rc" >> "$dir/krum-refusal.txt"
    [ "$rc" = 2 ] || { echo "study_fed: krum:4 with 10 clients a round was not refused (exit $rc)" >&2; exit 1; }
    for p in $attack_parts; do
      for s in $seeds; do
        for a in 0 0.1 0.2; do
          tb=0.2; [ "$a" = 0.2 ] && tb=0.3
          for agg in mean median "trimmed:$tb" krum:3; do
            at=(); [ "$a" != 0 ] && at=(--attack signflip --attackers "$a")
            run attack "$p" "${agg}-a$a" "$s" "$arounds" --aggregate "$agg" "${at[@]}"
          done
        done
      done
    done ;;
  attack20)
    for s in $seeds; do
      for a in 0 0.2; do
        for agg in mean median trimmed:0.3 krum:6; do
          [ "$a" = 0 ] && [ "$agg" != mean ] && continue    # the clean baseline: mean
          at=(); [ "$a" != 0 ] && at=(--attack signflip --attackers "$a")
          run attack20 iid "${agg}-a$a" "$s" "$arounds" --sample 0.2 --aggregate "$agg" "${at[@]}"
        done
      done
    done ;;
  dp)
    for s in $seeds; do
      run dp iid "nodp" "$s" "$arounds"
      for z in $noises; do
        run dp iid "clip$clip-noise$z" "$s" "$arounds" --dp-clip "$clip" --dp-noise "$z"
      done
    done ;;
  *) echo "study_fed: unknown part $part (sweep, main, adapt, scope, attack, attack20 or dp)" >&2; exit 2 ;;
  esac
done
rm -f "$dir/out.txt" "$dir/err.txt"
"$here/fed_table.sh" "$dir" | tee "$dir/tables.md"
