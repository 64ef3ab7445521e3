# walkthrough.sh — the README's "Your own data" runs as pasted: its shell
# blocks, in order, in an empty directory, with the regula under test on
# the PATH; then what they printed is checked against what the section
# says.  Run as: bash walkthrough.sh REGULA_BIN DATA_DIR
set -u
# shellcheck source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: walkthrough.sh REGULA_BIN DATA_DIR}
README=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/README.md
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
bin=$(cd "$(dirname "$REGULA")" && pwd)

# the section's ```sh blocks, one script, each block announced
awk '/^## / { on = ($0 == "## Your own data") }
     on && /^```sh$/ { n++; print "echo \"--- block " n "\""; inside = 1; next }
     on && inside && /^```$/ { inside = 0; next }
     on && inside { print }
     END { print "# blocks: " n }' "$README" >"$T/walk.sh"
blocks=$(sed -n 's/^# blocks: //p' "$T/walk.sh")
check "the section has its six blocks ($blocks)" test "${blocks:-0}" -ge 6

mkdir "$T/run"
run 0 -- env -C "$T/run" PATH="$bin:$PATH" bash -e -o pipefail "$T/walk.sh"
cat "$T/out"
check "every block ran" grep -Fqx -- "--- block $blocks" "$T/out"
check "train: validation and training figures" grep -Eq '^val_loss [0-9.]+  val_acc (0\.9[0-9]+|1\.0+)  train_loss [0-9.]+  train_acc (0\.9[0-9]+|1\.0+)  epochs 30$' "$T/out"
check "the checkpoint names the classes" grep -Fq '["setosa","versicolor","virginica"]' "$T/out"
check "and keeps the standardisation" grep -Eq 'input\.std +F32 +\[2\]' "$T/out"
check "eval reads the names" grep -Eq '^test_loss [0-9.]+  test_acc (0\.9[0-9]+|1\.0+)$' "$T/out"
check "predict prints names" grep -Pzq 'setosa\nvirginica\n' "$T/out"
check "predict on the training file: each class about a hundred" grep -Eq '^ +(9[0-9]|10[0-9]) versicolor$' "$T/out"
check "predict from standard input" test "$(grep -c '^setosa$' "$T/out")" -ge 2
# the regression's blocks
check "regression: loss, MAE and RMSE of the validation and training sets" \
    grep -Eq '^val_loss [0-9.]+  val_mae [0-9.]+  val_rmse [0-9.]+  train_loss [0-9.]+  train_mae [0-9.]+  train_rmse [0-9.]+  epochs [0-9]+' "$T/out"
check "regression: a validation MAE near the noise's (< 2)" \
    awk '/^val_loss .* val_mae/ { for (i = 1; i < NF; i++) if ($i == "val_mae") ok = $(i + 1) < 2 } END { exit !ok }' "$T/out"
check "regression: eval's loss, MAE and RMSE" grep -Eq '^test_loss [0-9.]+  test_mae [0-9.]+  test_rmse [0-9.]+$' "$T/out"
check "regression: predict gives about 132 and 168" awk '/^1[0-9][0-9]\.[0-9]+$/ { v[n++] = $1 }
    END { exit !(n == 2 && v[0] > 128 && v[0] < 136 && v[1] > 164 && v[1] < 172) }' "$T/out"
finish
