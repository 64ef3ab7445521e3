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
# the page as man prints it, one paragraph per option (no wrapping)
groff -man -Tascii -P-cbou -rLL=2000n "$T/regula.1" 2>/dev/null | sed 's/^ *//' >"$T/page"

for cmd in train eval predict plot inspect; do
    "$REGULA" "$cmd" --help >"$T/help" || bad "$cmd --help"
    n=0
    while read -r opt; do
        [ "$opt" = --help ] && continue
        n=$((n + 1))
        grep -q -- "^\(-., \)\?$opt\b" "$T/page" || bad "$cmd: $opt in --help but not in the man page"
    done < <(grep -oE '^  (-., |    )?--[a-z0-9-]+' "$T/help" | sed 's/.*\(--\)/\1/')
    [ "$n" -gt 0 ] && ok "$cmd: its $n options are in the man page" || bad "$cmd: no option found in --help"
    # defaults: "--name ARG  help (default: X)" in both
    while IFS= read -r line; do
        opt=$(sed -E 's/^ *(--[a-z0-9-]+).*/\1/' <<<"$line")
        def=$(sed -E 's/.*\(default: (.*)\)$/\1/' <<<"$line")
        grep -A1 -- "^$opt\b" "$T/page" | grep -qF "(default: $def)" || bad "$cmd: $opt: default '$def' not in the man page"
    done < <(grep -E '^  --[a-z0-9-]+ .*\(default: .*\)$' "$T/help")
done
grep -q '^EXIT STATUS' "$T/page" && grep -q '^5 ' "$T/page" && ok "exit status section, codes 0..5" || bad "exit status section"
"$REGULA" --help | grep -q -- '--man' && ok "regula --help mentions --man" || bad "regula --help mentions --man"
finish
