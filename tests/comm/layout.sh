#!/usr/bin/env bash
# The comm layer's layout holds (docs/design.md, "Communicators"):
#   - src/comm/comm_mpi.c is the only file that includes <mpi.h>;
#   - the processes x threads world is comm_hier.c, which calls no MPI
#     function (it reaches MPI through the process communicator's ops), and
#     comm_mpi.c holds none of the world's code;
#   - no function in src/comm/ runs over 120 lines.
# Usage: layout.sh SOURCE_DIR LIBREGULA.a
set -u
src=$1 lib=$2
# shellcheck source=../cli/lib.bash
source "$src/tests/cli/lib.bash"

others=$(cd "$src" && grep -rlE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]mpi\.h[>"]' src include cli bench 2> /dev/null |
         grep -v '^src/comm/comm_mpi\.c$')
if [ -z "$others" ]; then ok "<mpi.h> is included by src/comm/comm_mpi.c alone"; else bad "<mpi.h> is included by: $others"; fi

# nm -A names the archive member on every line: libregula.a:comm_hier.c.o: ...
syms=$(nm -A "$lib" 2> /dev/null)
hier=$(grep ':comm_hier\.c\.o:' <<< "$syms")
mpi=$(grep ':comm_mpi\.c\.o:' <<< "$syms")
if grep -q ' T rg_comm_hier_create$' <<< "$hier"; then ok "comm_hier.c defines rg_comm_hier_create"
else bad "comm_hier.c does not define rg_comm_hier_create (is it in the library?)"; fi
calls=$(grep -E ' U P?MPI_' <<< "$hier" | awk '{print $NF}' | sort -u | tr '\n' ' ')
if [ -z "$calls" ]; then ok "comm_hier.c calls no MPI function"; else bad "comm_hier.c calls MPI: $calls"; fi
if [ -n "$mpi" ] && ! grep -qE ' [tT] (hier_|rg_comm_hier_create$)' <<< "$mpi"; then ok "comm_mpi.c holds no hierarchical-world code"
else bad "comm_mpi.c defines: $(grep -E ' [tT] (hier_|rg_comm_hier)' <<< "$mpi" | awk '{print $NF}' | tr '\n' ' ')"; fi

# a function starts at a line in column 0 that opens a definition and ends
# at the first "}" in column 0
long=$(cd "$src" && awk 'FNR == 1 { start = 0 }
  /^[a-z].*\(/ && !/;[[:space:]]*$/ { name = $0; start = FNR }
  /^}/ && start { n = FNR - start + 1; if (n > 120) printf "%s:%d: %d lines: %s\n", FILENAME, start, n, substr(name, 1, 60); start = 0 }' \
  src/comm/*.c)
if [ -z "$long" ]; then ok "no function in src/comm/ is over 120 lines"; else bad "functions over 120 lines: $long"; fi
finish
