#!/usr/bin/env bash
# The tables of docs/study-federated.md from the JSON-lines logs that
# bench/study_fed.sh keeps (no Python: bash and awk).
#
#   bench/fed_table.sh DIR            markdown tables of every run in DIR
#   bench/fed_table.sh metrics LOG [BUDGET_BYTES]
#                                     one log's figures on one line:
#     rounds r80 r70 final last10 budget_acc mb_per_round eps kept objective
#
# A log is named PART_PARTITION_LABEL_sSEED.jsonl (LABEL without "_");
# DIR/runs.txt lists them in the order they ran, which is the tables' order.
# Each run watches the test set (no --val-split), so a round's val_acc is
# the global model's test accuracy after it.  r80 / r70: the first round
# whose val_acc reaches 0.80 / 0.70 ("nan": not within the run's rounds);
# final: the end event's test_acc (without a test set, the last val_acc); last10: the mean val_acc of the last
# 10 rounds (the final figure swings from round to round under strong
# skew); budget_acc: val_acc after the last round whose cumulative
# bytes_up + bytes_down stay within BUDGET_BYTES (nan: not even one round);
# mb_per_round: (bytes_up + bytes_down) per round in MB (1e6), over the
# run; eps: the last round's epsilon ("-" without --dp-clip); kept: rounds
# in which the model was kept (too few reports for the rule); objective:
# the end event's train_loss, the final model's data loss plus its L1/L2
# penalty on the training set, the objective every algorithm is meant to
# minimise.
# The attack tables' Δ: the mean of the last 10 rounds less that of the
# clean mean (and of the same rule without attackers), in points.
# The byte budget of the tables: half the smallest total of the "main"
# runs, i.e. FedAvg's bytes over half the rounds (THRESHOLDS: fixed at 0.8, 0.7).
set -euo pipefail

metrics() {
  awk -v budget="${2:-0}" '
    function grab(key,   v) {
      if (!match($0, "\"" key "\":[-0-9.eE+]+")) return "nan"
      return substr($0, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
    }
    # the last event of a round counts: a resumed run logs the round of its checkpoint again (and a
    # killed one the rounds after its last checkpoint, which the resumed run trains again)
    /"event":"epoch"/ {
      r = grab("epoch") + 0; if (r > n) n = r
      acc[r] = grab("val_acc")
      if (index($0, "\"fed\":")) { by[r] = grab("bytes_up") + grab("bytes_down"); kp[r] = /"kept":true/ }
      if (match($0, "\"epsilon\":[^,}]+")) eps = substr($0, RSTART + 10, RLENGTH - 10)
    }
    /"event":"end"/ { final = grab("test_acc"); obj = grab("train_loss") }
    END {
      for (i = 1; i <= n; i++) {
        a = acc[i]
        if (r80 == "" && a != "nan" && a != "" && a + 0 >= 0.8) r80 = i
        if (r70 == "" && a != "nan" && a != "" && a + 0 >= 0.7) r70 = i
        bytes += by[i]
        if (budget > 0 && bytes <= budget) bacc = a
        kept += kp[i]
      }
      if (final == "" || final == "nan") final = acc[n]   # no test set: the last validation figure
      gsub(/"/, "", eps)
      s = 0; k = 0
      for (i = n - 9; i <= n; i++) if (i >= 1 && acc[i] != "nan" && acc[i] != "") { s += acc[i]; k++ }
      printf "%d %s %s %s %s %s %.3f %s %d %s\n", n, r80 == "" ? "nan" : r80, r70 == "" ? "nan" : r70,
             final == "" ? "nan" : final, k ? sprintf("%.4f", s / k) : "nan",
             bacc == "" ? "nan" : bacc, n ? bytes / n / 1e6 : 0, eps == "" ? "-" : eps, kept + 0,
             obj == "" ? "nan" : obj
    }' "$1"
}

if [ "${1:-}" = metrics ]; then
  metrics "${2:?usage: fed_table.sh metrics LOG [BUDGET_BYTES]}" "${3:-0}"
  exit 0
fi
dir=${1:?usage: bench/fed_table.sh DIR | metrics LOG [BUDGET_BYTES]}
[ -d "$dir" ] || { echo "fed_table: $dir: no such directory" >&2; exit 2; }
if [ -f "$dir/runs.txt" ]; then list=$(cat "$dir/runs.txt"); else list=$(cd "$dir" && ls -- *.jsonl 2>/dev/null || true); fi
[ -n "$list" ] || { echo "fed_table: no logs in $dir" >&2; exit 3; }

# The budget: half the smallest total of the main runs.
budget=$(for f in $list; do
  case $f in main_*) awk '/"event":"epoch"/ && match($0, /"bytes_up":[0-9.eE+]+/) { u = substr($0, RSTART + 11, RLENGTH - 11) + 0
    match($0, /"bytes_down":[0-9.eE+]+/); t += u + substr($0, RSTART + 13, RLENGTH - 13) } END { printf "%.0f\n", t }' "$dir/$f" ;;
  esac; done | sort -n | head -1)
budget=$(( ${budget:-0} / 2 ))

# One line per log: part partition label seed, then metrics' fields.
rows=$(for f in $list; do
  b=${f%.jsonl}; IFS=_ read -r part partition label seed <<<"$b"
  [ -n "${seed:-}" ] || { echo "fed_table: $f: not PART_PARTITION_LABEL_sSEED.jsonl" >&2; exit 3; }
  echo "$part $partition $label ${seed#s} $(metrics "$dir/$f" "$budget")"
done)

# Groups (part partition label) in order, each a table row over its seeds.
# $1 part, $2 the row format: the columns wanted, by name.
table() {
  awk -v want="$1" -v budget="$budget" '
    function ms(list, f,   n, i, x, s, q, m, v) {
      n = split(list, x, " "); s = 0; q = 0; k = 0
      for (i = 1; i <= n; i++) if (x[i] != "nan" && x[i] != "") { s += x[i]; q += x[i] * x[i]; k++ }
      if (!k) return "–"
      m = s / k; v = k > 1 ? (q - k * m * m) / (k - 1) : 0; if (v < 0) v = 0
      return k > 1 ? sprintf(f " ± " f, m, sqrt(v)) : sprintf(f, m)
    }
    function reach(list, R,   n, i, x, k, s, q, m, v) {
      n = split(list, x, " "); k = 0; s = 0; q = 0
      for (i = 1; i <= n; i++) if (x[i] != "nan") { s += x[i]; q += x[i] * x[i]; k++ }
      if (!k) return "not within " R
      m = s / k; v = k > 1 ? (q - k * m * m) / (k - 1) : 0; if (v < 0) v = 0
      return (k > 1 ? sprintf("%.0f ± %.0f", m, sqrt(v)) : sprintf("%.0f", m)) \
             (k < n ? sprintf(" (%d of %d seeds)", k, n) : "")
    }
    $1 == want {
      g = $2 " " $3
      if (!(g in seen)) { seen[g] = 1; order[++ng] = g; }
      R[g] = $5; r80[g] = r80[g] " " $6; r70[g] = r70[g] " " $7; fin[g] = fin[g] " " $8
      l10[g] = l10[g] " " $9; bud[g] = bud[g] " " $10; mb[g] = $11; eps[g] = eps[g] " " $12
      kept[g] += $13; obj[g] = obj[g] " " $14; runs[g]++
    }
    END {
      for (i = 1; i <= ng; i++) {
        g = order[i]; split(g, p, " ")
        if (want == "main" || want == "sweep" || want == "adapt" || want == "scope")
          printf "| %s | %s | %s | %s | %s | %s | %s | %.2f | %s | %d |\n", p[1], p[2], reach(r80[g], R[g]),
                 reach(r70[g], R[g]), ms(fin[g], "%.4f"), ms(l10[g], "%.4f"), ms(bud[g], "%.4f"), mb[g],
                 ms(obj[g], "%.3f"), runs[g]
        else if (want == "attack" || want == "attack20") {
          lab = p[2]; agg = lab; sub(/-a[0-9.]+$/, "", agg); fr = lab; sub(/^.*-a/, "", fr)
          m = ms(l10[g], "%.6f") + 0
          if (fr == "0") own[p[1] " " agg] = m
          if (fr == "0" && agg == "mean") base[p[1]] = m
          d = (p[1] in base) ? sprintf("%+.1f", 100 * (m - base[p[1]])) : "–"
          o = ((p[1] " " agg) in own) ? sprintf("%+.1f", 100 * (m - own[p[1] " " agg])) : "–"
          printf "| %s | %s | %s%% | %s | %s | %s | %s | %d | %d |\n", p[1], agg, fr * 100, ms(fin[g], "%.4f"),
                 ms(l10[g], "%.4f"), d, o, kept[g], runs[g]
        } else if (want == "dp") {
          split(eps[g], e, " ")
          printf "| %s | %s | %s | %s | %s | %d |\n", p[1], p[2], e[1] == "-" ? "–" : e[1],
                 ms(fin[g], "%.4f"), ms(l10[g], "%.4f"), runs[g]
        }
      }
    }' <<<"$rows"
}

has() { grep -q "^$1 " <<<"$rows"; }
mbb=$(awk -v b="$budget" 'BEGIN { printf "%.4g", b / 1e6 }')
if has sweep; then
  echo "#### Tuning on seed 1: FedProx's μ and the adaptive policies"
  echo
  echo "| partition | run | rounds to 80% | rounds to 70% | test acc after R | mean of last 10 rounds | acc within $mbb MB | MB a round | training objective after R | runs |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  table sweep; echo
fi
if has main; then
  echo "#### The algorithms, mean ± sd over seeds"
  echo
  echo "| partition | algorithm | rounds to 80% | rounds to 70% | test acc after R | mean of last 10 rounds | acc within $mbb MB | MB a round | training objective after R | runs |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  table main; echo
fi
if has scope; then
  echo "#### The penalty in the clients' losses (--reg-scope local) rather than the server's step, mean ± sd over seeds"
  echo
  echo "| partition | run | rounds to 80% | rounds to 70% | test acc after R | mean of last 10 rounds | acc within $mbb MB | MB a round | training objective after R | runs |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  table scope; echo
fi
if has adapt; then
  echo "#### Per-client μ where the proximal term binds: uniform against each policy, mean ± sd over seeds"
  echo
  echo "| partition | run | rounds to 80% | rounds to 70% | test acc after R | mean of last 10 rounds | acc within $mbb MB | MB a round | training objective after R | runs |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  table adapt; echo
fi
for a in attack attack20; do
  if has $a; then
    echo "#### Sign-flip attackers ($a), mean ± sd over seeds"
    echo
    echo "| partition | aggregate | attackers | test acc after R | mean of last 10 rounds | Δ vs clean mean (pp) | Δ vs the rule without attackers (pp) | rounds kept | runs |"
    echo "|---|---|---|---|---|---|---|---|---|"
    table $a; echo
  fi
done
if has dp; then
  echo "#### DP-FedAvg: accuracy against ε (δ = 1e-5)"
  echo
  echo "| partition | clip, noise | ε after R (seed 1) | test acc after R | mean of last 10 rounds | runs |"
  echo "|---|---|---|---|---|---|"
  table dp; echo
fi
