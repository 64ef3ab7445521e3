# plot.sh — `regula plot` as a user drives it: every kind of picture in
# every format, read back; unknown fields, bad and truncated logs.
# Run as: bash plot.sh REGULA_BIN DATA_DIR.  Needs gnuplot (gnuplot-nox).
#
# How a picture is read back:
#   - PNG: the 8-byte signature, and the IEND chunk as the file's last 12
#     bytes (a whole file, not a cut one); IHDR's width and height.
#   - PDF: "%PDF-" first and "%%EOF" last.
#   - SVG: "<svg" and "</svg>", and the series.  gnuplot's SVG terminal puts
#     each series it draws (its line or points, and its legend entry) in
#     one group <g id="gnuplot_plot_N"> (N, or Na, Nb... across the panels
#     of a multiplot), with the legend's text as the group's first <text>.
#     Counting those groups counts series whatever their style (lines,
#     points), and their first texts are the legend, in order; both are
#     what the picture shows, not what regula says it drew.  Within a
#     group, each point of a lines-and-points series is one <use> of a
#     point symbol (one more for the legend's sample).
#   The same script draws all three formats (only the terminal differs),
#   so a series count read from the SVG holds for the PNG and the PDF.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: plot.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-plot-XXXXXX")
trap 'rm -rf "$T"' EXIT

series() { grep -c '<g id="gnuplot_plot_' "$1"; }
legends() { awk '/<g id="gnuplot_plot_/ { g = 1 } g && /<text>/ { sub(/.*<text>/, ""); sub(/<\/text>.*/, ""); print; g = 0 }' "$1"; }
# points GROUP FILE: point symbols drawn in series GROUP, less the legend's
points() { awk -v id="<g id=\"gnuplot_plot_$1\"" 'index($0, "<g id=\"gnuplot_plot_") { g = index($0, id) > 0 }
    g && /<use xlink:href=.#gpPt/ { n++ } END { print n - 1 }' "$2"; }
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
    [ "$(tail -c 12 "$1" | od -An -tx1 | tr -d ' \n')" = 0000000049454e44ae426082 ]; }
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $1 * 16777216 + $2 * 65536 + $3 * 256 + $4, $5 * 16777216 + $6 * 65536 + $7 * 256 + $8 }'; }
is_pdf() { [ "$(head -c 5 "$1")" = "%PDF-" ] && tail -c 8 "$1" | grep -q '%%EOF'; }
is_svg() { head -c 400 "$1" | grep -q '<svg' && tail -c 20 "$1" | grep -q '</svg>'; }
no_leftovers() { [ -z "$(find "$T" -name '*.tmp.*')" ]; }

# --- two small runs on 2 workers with label skew, validation and test sets
gen_csv "$T/train.csv" 240 4242
gen_csv "$T/test.csv" 60 99
COMMON=(--data "csv:$T/train.csv" --test-data "csv:$T/test.csv" --model 'dense(8, relu, l2=0.01) dense(3, softmax)'
    --batch 16 --workers 2 --partition dirichlet:0.5 --val-split 0.2 --epochs 3 --log-every 2)
run 0 -- "$REGULA" train "${COMMON[@]}" --lr 0.05 --log "$T/a.jsonl" || exit 1
run 0 -- "$REGULA" train "${COMMON[@]}" --lr 0.01 --worker-batch equal --log "$T/b.jsonl" || exit 1

# --- curves: loss and accuracy, train and validation
run 0 -- "$REGULA" plot "$T/a.jsonl" -o "$T/c1.svg"
check "curves svg is an svg" is_svg "$T/c1.svg"
check "curves of one log: 4 series (2 panels x train, validation), got $(series "$T/c1.svg")" test "$(series "$T/c1.svg")" -eq 4
check "curves legends" test "$(legends "$T/c1.svg" | tr '\n' '|')" = "train|validation|train|validation|"
check "3 epochs, 3 points in the first series (got $(points 1a "$T/c1.svg"))" test "$(points 1a "$T/c1.svg")" -eq 3
check "plot prints nothing on stdout" test ! -s "$T/out"
check "plot of a finished run says nothing" test ! -s "$T/err"
run 0 -- "$REGULA" plot "$T/a.jsonl" "$T/b.jsonl" --label fast --label slow -o "$T/c2.svg"
check "two logs overlaid: 8 series" test "$(series "$T/c2.svg")" -eq 8
check "legends name each log by --label" test "$(legends "$T/c2.svg" | head -4 | tr '\n' '|')" = "fast train|fast validation|slow train|slow validation|"
run 0 -- "$REGULA" plot "$T/a.jsonl" "$T/b.jsonl" -o "$T/c2n.svg"
check "without --label, the file names" test "$(legends "$T/c2n.svg" | head -3 | tail -1)" = "b train"
cp "$T/a.jsonl" "$T/w2-skew-proportional-s1.jsonl"
cp "$T/b.jsonl" "$T/w2-skew-equal-s1.jsonl"
run 0 -- "$REGULA" plot "$T/w2-skew-proportional-s1.jsonl" "$T/w2-skew-equal-s1.jsonl" -o "$T/c2t.svg"
check "file names shortened by what they share" test "$(legends "$T/c2t.svg" | head -3 | tr '\n' '|')" = "proportional train|proportional validation|equal train|"
run 0 -- "$REGULA" train "${COMMON[@]}" --val-split 0 --epochs 1 --log "$T/v.jsonl"
run 0 -- "$REGULA" plot "$T/v.jsonl" -o "$T/v.svg"
check "a run that validates on its test set says so" test "$(legends "$T/v.svg" | head -2 | tr '\n' '|')" = "train|test (validation)|"
run 0 -- "$REGULA" plot "$T/a.jsonl" "$T/b.jsonl" -o "$T/c2.png"
check "curves png: PNG signature and IEND" is_png "$T/c2.png"
check "curves png: two panels wide ($(png_size "$T/c2.png"))" test "$(png_size "$T/c2.png")" = 1080x430
run 0 -- "$REGULA" plot "$T/a.jsonl" -o "$T/c1.pdf"
check "curves pdf: %PDF ... %%EOF" is_pdf "$T/c1.pdf"

# --- per-worker series
run 0 -- "$REGULA" plot "$T/a.jsonl" --what lambda -o "$T/l.svg"
check "lambda of 2 workers: 2 series" test "$(series "$T/l.svg")" -eq 2
check "lambda legends name the workers" test "$(legends "$T/l.svg" | tr '\n' '|')" = "worker 0|worker 1|"
# staleness is a count per staleness level (0..K), not per worker
run 0 -- "$REGULA" train "${COMMON[@]}" --workers 3 --strategy ps --staleness 4 --log "$T/ps.jsonl" || exit 1
levels=$(jq -s '[.[] | select(.event == "epoch") | .staleness | length] | max' "$T/ps.jsonl")
want=$(seq 0 $((levels - 1)) | sed 's/^/staleness /' | tr '\n' '|')
run 0 -- "$REGULA" plot "$T/ps.jsonl" --y staleness -o "$T/st.svg"
check "staleness of K = 4: a series per level seen ($levels), not per worker" test "$(series "$T/st.svg")" -eq "$levels"
check "staleness legends name the levels ($want)" test "$(legends "$T/st.svg" | tr '\n' '|')" = "$want"
check "the highest staleness level has a point per epoch (0 where not seen)" test "$(points "$levels" "$T/st.svg")" -eq 3
run 2 -- "$REGULA" plot "$T/ps.jsonl" --y staleness --x samples -o "$T/st2.svg"
check "staleness against a per-worker field is refused, saying why" grep -q 'per staleness level, not per worker' "$T/err"
run 0 -- "$REGULA" plot "$T/a.jsonl" --what lambda -o "$T/l.pdf"
check "lambda pdf" is_pdf "$T/l.pdf"
run 0 -- "$REGULA" plot "$T/a.jsonl" "$T/b.jsonl" --what workers -o "$T/w.svg"
check "workers of 2 logs: 3 panels x 2 logs x 2 workers = 12 series" test "$(series "$T/w.svg")" -eq 12
check "workers: comm share panel" grep -q 'communication share per worker' "$T/w.svg"
run 0 -- "$REGULA" plot "$T/a.jsonl" --y comm_share,samples -o "$T/cs.png"
check "two per-worker fields png" is_png "$T/cs.png"

# --- trade-off: one point per run
run 0 -- "$REGULA" plot "$T/a.jsonl" "$T/b.jsonl" --x bytes --y test_acc -o "$T/t.svg"
check "bytes against test_acc: one series per log" test "$(series "$T/t.svg")" -eq 2
check "... of one point each" test "$(points 1 "$T/t.svg")" -eq 1 -a "$(points 2 "$T/t.svg")" -eq 1
run 0 -- "$REGULA" plot "$T/a.jsonl" "$T/b.jsonl" --x bytes --y test_acc -o "$T/t.png"
check "trade-off png" is_png "$T/t.png"
run 0 -- "$REGULA" plot "$T/a.jsonl" "$T/b.jsonl" --x time --y val_acc -o "$T/tv.svg"
check "time against val_acc: a curve per log, 3 points" test "$(series "$T/tv.svg")" -eq 2 -a "$(points 1 "$T/tv.svg")" -eq 3
run 0 -- "$REGULA" plot "$T/a.jsonl" --y step.loss --logy -o "$T/s.svg"
check "step events' loss on a log scale: 1 series" test "$(series "$T/s.svg")" -eq 1
run 0 -- "$REGULA" plot "$T/a.jsonl" --y step.loss -o "$T/s-lin.svg"
check "--logy draws another picture than a linear axis" test "$(cmp -s "$T/s.svg" "$T/s-lin.svg"; echo $?)" -eq 1
run 0 -- "$REGULA" plot "$T/a.jsonl" --y acc,skipped --logy -o "$T/s0.svg"
check "values <= 0 on a log scale: a note" grep -q '3 values <= 0 left out of the log scale' "$T/err"
check "... and the series that has none left is dropped" test "$(series "$T/s0.svg")" -eq 1
run 0 -- "$REGULA" plot "$T/a.jsonl" --x step --y loss -o "$T/s2.svg"
check "--x step --y loss picks the step events" test "$(series "$T/s2.svg")" -eq 1
run 0 -- "$REGULA" plot "$T/a.jsonl" --fields
check "--fields lists epoch fields and derived ones" grep -q 'epoch: .*bytes, bytes_sent.*comm_share' "$T/out"

# --- regula fed's rounds: the members of the epoch events' fed object, by path (fed.client_loss.worst10)
run 0 -- "$REGULA" fed --data "csv:$T/train.csv" --test-data "csv:$T/test.csv" --model 'dense(8, relu) dense(3, softmax)' \
    --clients 8 --sample 0.5 --rounds 3 --batch 8 --lr 0.05 --dp-clip 1 --dp-noise 1 --log "$T/fed.jsonl"
run 0 -- "$REGULA" plot "$T/fed.jsonl" --fields
check "--fields lists the rounds' client figures by path" \
    grep -q 'epoch: .*fed.bytes_up, .*fed.client_loss.mean, fed.client_loss.std, fed.client_loss.worst10, .*fed.epsilon' "$T/out"
run 0 -- "$REGULA" plot "$T/fed.jsonl" --y fed.client_loss.mean,fed.client_loss.worst10 -o "$T/fed.svg"
check "two of the rounds' client figures: 2 series" test "$(series "$T/fed.svg")" -eq 2
check "... of a point per round" test "$(points 1 "$T/fed.svg")" -eq 3 -a "$(points 2 "$T/fed.svg")" -eq 3
check "... along rounds (a federated log's epochs)" grep -q '<text>round</text>' "$T/fed.svg"
run 0 -- "$REGULA" plot "$T/fed.jsonl" -o "$T/fedc.svg"
check "a federated log's curves: along rounds, not epochs" \
    test "$(grep -c '<text>round</text>' "$T/fedc.svg")" -eq 2 -a "$(grep -c '<text>epoch</text>' "$T/fedc.svg")" -eq 0
run 0 -- "$REGULA" plot "$T/a.jsonl" -o "$T/trainc.svg"
check "a train log's curves: along epochs" test "$(grep -c '<text>epoch</text>' "$T/trainc.svg")" -eq 2
run 0 -- "$REGULA" plot "$T/fed.jsonl" --y epoch.fed.epsilon -o "$T/eps.svg"
check "EVENT.PATH: epsilon per round" test "$(points 1 "$T/eps.svg")" -eq 3
run 2 -- "$REGULA" plot "$T/fed.jsonl" --y fed.client_loss -o "$T/obj.svg"
check "an object is no field: exit 2, listing its members" grep -q "unknown field 'fed.client_loss'.*fed.client_loss.mean" "$T/err"

# --- unknown fields: exit 2, listing the known ones; no picture
run 2 -- "$REGULA" plot "$T/a.jsonl" --y nope -o "$T/u.png"
check "unknown y named" grep -q "unknown field 'nope'" "$T/err"
check "known fields listed" grep -q 'val_acc' "$T/err"
check "no picture for an unknown field" test ! -e "$T/u.png"
run 2 -- "$REGULA" plot "$T/a.jsonl" --x nope2 --y loss -o "$T/u.png"
check "unknown x named" grep -q "unknown field 'nope2'" "$T/err"
run 2 -- "$REGULA" plot "$T/a.jsonl" --what nope3 -o "$T/u.png"
run 2 -- "$REGULA" plot "$T/a.jsonl" --y test_acc -o "$T/u.png"
check "an end field needs --x" grep -q 'give --x' "$T/err"
run 2 -- "$REGULA" plot "$T/a.jsonl" --x step.step --y val_acc -o "$T/u.png"
check "step against epoch fields refused" grep -q 'same events' "$T/err"

# --- usage
run 2 -- "$REGULA" plot "$T/a.jsonl"
check "no -o named" grep -q -- '-o FILE' "$T/err"
run 2 -- "$REGULA" plot "$T/a.jsonl" -o "$T/x.jpg"
check "bad extension named" grep -q 'x.jpg' "$T/err"
run 2 -- "$REGULA" plot -o "$T/x.png"
run 2 -- "$REGULA" plot "$T/a.jsonl" --label x --label y -o "$T/x.png"
run 2 -- "$REGULA" plot "$T/a.jsonl" --y , -o "$T/x.png"
run 2 -- "$REGULA" plot "$T/a.jsonl" --what curves --y loss -o "$T/x.png"
run 2 -- "$REGULA" plot "$T/a.jsonl" --bogus -o "$T/x.png"
check "unknown option named" grep -q -- "--bogus" "$T/err"
run 0 -- "$REGULA" plot --help
check "plot --help lists --logy" grep -q -- '--logy' "$T/out"

# --- bad files: exit 3 naming the file (and line)
run 3 -- "$REGULA" plot "$T/missing.jsonl" -o "$T/x.png"
check "missing file named" grep -q 'missing.jsonl: cannot open' "$T/err"
: >"$T/empty.jsonl"
run 3 -- "$REGULA" plot "$T/empty.jsonl" -o "$T/x.png"
check "empty file" grep -q 'empty.jsonl: no events' "$T/err"
{ head -n 2 "$T/a.jsonl"; echo 'this is not json'; tail -n +3 "$T/a.jsonl"; } >"$T/mid.jsonl"
run 3 -- "$REGULA" plot "$T/mid.jsonl" -o "$T/x.png"
check "bad line named with its number" grep -q 'mid.jsonl:3: not JSON' "$T/err"
{ head -n 2 "$T/a.jsonl"; echo '[1, 2]'; tail -n +3 "$T/a.jsonl"; } >"$T/arr.jsonl"
run 3 -- "$REGULA" plot "$T/arr.jsonl" -o "$T/x.png"
check "a JSON line that is no event" grep -q 'arr.jsonl:3: not an event' "$T/err"
run 3 -- "$REGULA" plot "$T" -o "$T/x.png"
check "a directory" grep -q 'is a directory' "$T/err"
run 3 -- "$REGULA" plot /dev/zero -o "$T/x.png"
run 3 -- "$REGULA" plot "$T/a.jsonl" -o "$T/no/such/dir/x.png"
check "unwritable output named" grep -q 'x.png: cannot write' "$T/err"
head -n 1 "$T/a.jsonl" >"$T/config-only.jsonl"
run 3 -- "$REGULA" plot "$T/config-only.jsonl" -o "$T/x.png"
check "a log with no epoch yet: nothing to plot" grep -q 'nothing to plot' "$T/err"
check "no picture, no temporary left" test ! -e "$T/x.png" -a -z "$(find "$T" -name '*.tmp.*')"

# --- a killed run: no end event, a half-written last line; still plots
grep -v '"event":"end"' "$T/a.jsonl" | grep -v '"epoch":3,' >"$T/cut.jsonl"
grep '"event":"epoch","epoch":3,' "$T/a.jsonl" | head -c 50 >>"$T/cut.jsonl"
run 0 -- "$REGULA" plot "$T/cut.jsonl" -o "$T/cut.svg"
check "truncated log: the last line's note" grep -q 'cut.jsonl:[0-9]*: the last line is not a whole event' "$T/err"
check "truncated log: the missing end's note" grep -q 'cut.jsonl has no end event.*2 epochs' "$T/err"
check "truncated log: still 4 series" test "$(series "$T/cut.svg")" -eq 4
check "truncated log: 2 epochs drawn" test "$(points 1a "$T/cut.svg")" -eq 2
run 0 -- "$REGULA" plot "$T/cut.jsonl" "$T/b.jsonl" --x bytes --y test_acc -o "$T/cut-t.svg"
check "trade-off leaves the unfinished run out, with a note" grep -q "cut.jsonl has no field 'test_acc'" "$T/err"
check "trade-off: the finished run's point" test "$(series "$T/cut-t.svg")" -eq 1

# --- a resumed run tells epoch 2 again: the repeat replaces it
{ grep -v '"event":"end"' "$T/a.jsonl" | grep -v '"epoch":3,'; echo '{"event":"resume","from":"x","step":20,"epoch":2,"samples":300,"workers_before":2}'
  grep '"event":"epoch","epoch":2,' "$T/a.jsonl" | sed 's/"loss":[0-9.e-]*/"loss":0.5/'; grep -e '"epoch":3,' -e '"event":"end"' "$T/a.jsonl"; } >"$T/resumed.jsonl"
run 0 -- "$REGULA" plot "$T/resumed.jsonl" -o "$T/res.svg"
check "resumed log: 3 epochs, not 4" test "$(points 1a "$T/res.svg")" -eq 3

# --- gnuplot missing: exit 1 saying what to install, nothing left
REGULA_GNUPLOT=/nonexistent/gnuplot run 1 -- "$REGULA" plot "$T/a.jsonl" -o "$T/g.png"
check "missing gnuplot: says what to install" grep -q 'gnuplot-nox' "$T/err"
check "missing gnuplot: no picture, no temporary" test ! -e "$T/g.png"
check "no temporaries anywhere" no_leftovers

finish
