# man.sh — the manual page and --help say the same: every option each
# command's --help lists is in `regula --man`, with the same default, and
# the page is clean roff.  Run as: bash man.sh REGULA_BIN DATA_DIR
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: man.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-man-XXXXXX")
trap 'rm -rf "$T"' EXIT

"$REGULA" --man >"$T/regula.1" || bad "regula --man exits 0"
[ -s "$T/regula.1" ] && ok "regula --man writes a page" || bad "regula --man writes a page"
head -1 "$T/regula.1" | grep -q '^\.TH REGULA 1' && ok ".TH header" || bad ".TH header"
w=$(groff -man -Tascii -ww -z "$T/regula.1" 2>&1)
[ -z "$w" ] && ok "groff: no warnings" || bad "groff warnings: $w"
# the page's options: "NAME<TAB>TEXT" from each .TP entry of the roff
sed 's/\\-/-/g; s/\\f[BIR]//g; s/\\e/\\/g' "$T/regula.1" |
    awk '/^\.TP$/ { tp = 1; next } tp == 1 { split($0, w, " "); name = w[1] ~ /^-.,$/ ? w[2] : w[1]; tp = 2; next }
         tp == 2 { if (name ~ /^--/) print name "\t" $0; tp = 0 }' >"$T/page-options"
# the page as man prints it
groff -man -Tascii -P-cbou -rLL=2000n "$T/regula.1" 2>/dev/null | sed 's/^ *//' >"$T/page"

grep -q '^OPTIONS OF TRAIN, FED, EVAL AND PREDICT' "$T/page" && ok "the options' section names fed" || bad "the options' section names fed"
for cmd in train fed eval predict plot inspect; do
    "$REGULA" "$cmd" --help >"$T/help" || bad "$cmd --help"
    # every "--name ARG  help (default: X)" of --help: the name on the page,
    # with the same text and default
    awk -F'\t' -v cmd="$cmd" 'NR == FNR { text[$1] = $2; next }
        match($0, /^  (-., |    )?--[a-z0-9-]+/) {
            opt = substr($0, RSTART, RLENGTH); sub(/.*--/, "--", opt)
            if (opt == "--help") next
            n++
            if (!(opt in text)) { print "FAIL: " cmd ": " opt " in --help but not in the man page"; bad++; next }
            help = $0
            sub(/^  (-., |    )?--[a-z0-9-]+( [^ ]+)? +/, "", help)
            if (index(text[opt], help) == 0) { print "FAIL: " cmd ": " opt ": \"" help "\" not in the man page"; bad++ }
        }
        END { if (!n) { print "FAIL: " cmd ": no option found in --help"; bad++ }
              exit bad > 0 }' "$T/page-options" "$T/help" &&
        ok "$cmd: its $(grep -E '^  (-., |    )?--[a-z]' "$T/help" | grep -vc -- '--help') options are in the man page, same text and defaults" ||
        bad "$cmd: options or defaults"
done
grep -q '^EXIT STATUS' "$T/page" && grep -q '^5 ' "$T/page" && ok "exit status section, codes 0..5" || bad "exit status section"
# fed's --clients has no default to show: its 0 means "not given"
"$REGULA" fed --help | grep -- '--clients' | grep -q '(required)$' && ! "$REGULA" fed --help | grep -- '--clients' | grep -q 'default' &&
    ok "fed --help: --clients (required), no default" || bad "fed --help: --clients shows a default"
grep -A2 'clients' "$T/regula.1" | grep -q '(required)' && ok "man page: --clients (required)" || bad "man page: --clients (required)"
"$REGULA" --help | grep -q -- '--man' && ok "regula --help mentions --man" || bad "regula --help mentions --man"
finish
