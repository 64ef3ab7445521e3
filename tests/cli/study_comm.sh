# study_comm.sh — bench/study_comm.sh (make study-comm) at a tiny scale, so
# that it cannot rot: part b (the parameter server under a straggler) with
# its default 4 training workers and with B_WORKERS=2, one optimizer, one
# seed, 300 samples: the table's title and rows, and each run's kept log
# under the name the study reuses (the 4-worker names unchanged, b-w2-...
# for 2) with the workers it asked for.  Seconds.
# Run as: bash study_comm.sh REGULA_BIN DATA_DIR
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: study_comm.sh REGULA_BIN DATA_DIR}
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../bench" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-study-comm-XXXXXX")
trap 'rm -rf "$T"' EXIT
build=$(dirname "$REGULA")

for bw in 4 2; do
  name=b; [ $bw = 4 ] || name=b-w$bw
  out=$T/b$bw.md logs=$T/logs$bw
  if [ $bw = 4 ]; then unset B_WORKERS; else export B_WORKERS=$bw; fi
  KEEP_LOGS=$logs PARTS=b B_OPTS=sgd:0.05 TRAIN_ARGS="--limit 300" bash "$BENCH/study_comm.sh" "$build" 1 1 > "$out" 2> "$T/err"
  check "part b, $bw training workers: the title says so" grep -q "straggler (--straggler 1:4), $bw training workers, 1 epochs, seeds 1" "$out"
  check "part b, $bw training workers: 6 rows (reg and noreg at K 0, 4, 16)" test "$(grep -c '^| \(no\)\?reg | sgd 0.05 |' "$out")" = 6
  check "part b, $bw training workers: the logs are $name-..." test -s "$logs/$name-reg-sgd0.05-K4-s1.jsonl"
  check "part b, $bw training workers: the runs had $bw training workers (the log's workers, the server apart)" \
    grep -q "\"workers\":$bw," "$logs/$name-noreg-sgd0.05-K16-s1.jsonl"
done
unset B_WORKERS
finish
