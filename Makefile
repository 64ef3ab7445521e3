# Thin wrapper over CMake.  The README's two commands:
#   make demo   installs what is missing, builds, trains the reference example
#   make test   installs what is missing, builds, runs the whole test suite
BUILD ?= build
JOBS ?= $(shell nproc)
EPOCHS ?= 10

PREFIX ?= /usr/local

.PHONY: all deps build demo test test-asan test-tsan test-mpich test-numerics test-install same-bits bench-ab install fuzz bench bench-kernels bench-parallel study study-comm study-fed bench-fed soak clean

all: build

deps:
	@scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/regula train --data fashion-mnist \
	  --model 'dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)' \
	  --optimizer adam --lr 0.001 --batch 32 --epochs $(EPOCHS) --seed 1 \
	  --log $(BUILD)/demo.jsonl --save $(BUILD)/demo.safetensors
	$(BUILD)/regula eval --data fashion-mnist --load $(BUILD)/demo.safetensors

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The libregula installed under PREFIX (DESTDIR honoured): regula.h,
# libregula.a and libregula.so, regula.pc, the CMake package (find_package
# (regula) -> regula::regula), the regula program and its man page.
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# Installs into a scratch prefix, builds examples/train_arrays.c against it
# with pkg-config and with CMake (shared and static) and runs it.
test-install: build
	tests/install/run.sh $(BUILD)

test-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRG_SANITIZE=ON -DRG_SHARED=OFF >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer over the tests that run worker threads (the strategies'
# too), and the CLI's kill-and-resume test (MPI off: Open MPI is not built
# for TSan).  tests/tsan.supp names the one race an algorithm accepts
# (Hogwild's lock-free updates), by the writer's stack: history_size=7
# (the most) keeps that stack, which the default lost about 1 run in 150
# of cli_strategies' late-sample Hogwild case on a loaded 2-core machine
# ("[failed to restore the stack]", so the report went unsuppressed; 0 in
# 300 with 7).
test-tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DRG_MPI=OFF -DRG_SHARED=OFF \
	  -DCMAKE_C_FLAGS=-fsanitize=thread -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread >/dev/null
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 history_size=7 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure --no-tests=error -j $(JOBS) -L 'comm|train|threads|parallel'

# The --save files of the configurations the strategy layer must not touch,
# byte-identical to those of commit af1c4ab (built once in build-base/;
# needs the repository's history) with af1c4ab's products (--gemm
# openblas), and with --gemm auto the same bits run to run.  About 80 s
# plus that build.
same-bits: build
	bench/same_bits.sh $(BUILD) af1c4ab

# Training speed against af1c4ab, interleaved, medians of 7.
bench-ab: build
	bench/ab.sh $(BUILD) 7 af1c4ab

# The MPI tests (ctest -L mpi) again under MPICH, beside Open MPI (deps
# --mpich): a build of its own in build-mpich, compiled with mpicc.mpich so
# that it links libmpich (the mpi_links test checks ldd), run by
# mpiexec.mpich.  Open MPI stays the default everywhere else.
test-mpich:
	@scripts/deps.sh --mpich
	cmake -S . -B build-mpich -DCMAKE_BUILD_TYPE=Release -DMPI_C_COMPILER=/usr/bin/mpicc.mpich \
	  -DMPIEXEC_EXECUTABLE=/usr/bin/mpiexec.mpich >/dev/null
	cmake --build build-mpich -j $(JOBS)
	cd build-mpich && ctest --output-on-failure --no-tests=error -j $(JOBS) -L mpi

# The tests that go through the floating-point kernels (ctest -L numerics)
# under OpenBLAS forced to Haswell, SkylakeX (if the CPU has avx512f),
# Sandybridge and left to choose, then with the reference GEMM (its own
# build, build-refgemm): a result that holds only by the luck of one
# kernel's summation order fails.  Any OPENBLAS_CORETYPE or
# OPENBLAS_L2_SIZE in the environment is overridden per run.  Then
# --deterministic's committed hashes (cli_cpu_bits, test_gemm_fixed) in
# builds for -march=x86-64-v3 and x86-64-v2 (build-march-*, only the CLI
# and that test): the same bits whatever -march.
test-numerics: build
	scripts/test_numerics.sh $(BUILD) build-refgemm $(JOBS) build-march

# libFuzzer targets for the IDX, CSV, safetensors, JSON-config and model-spec
# parsers (clang and libclang-rt-14-dev, which deps --fuzz installs): each
# runs FUZZ_SECONDS on its committed seed corpus; any finding fails.  CI runs
# `make fuzz FUZZ_SECONDS=15`; scripts/fuzz.sh NAME SECONDS runs one longer.
FUZZ_SECONDS ?= 30
fuzz:
	@scripts/deps.sh --fuzz
	scripts/fuzz.sh all $(FUZZ_SECONDS)

bench-parallel: build
	@scripts/deps.sh --bench
	bench/run_parallel.sh $(BUILD)

# Kill and resume, 100 random SIGKILLs per configuration (1 worker, 2
# threads, 2 MPI processes), each resumed and compared byte for byte.
soak: build
	bench/soak_resume.sh $(BUILD) 100

study: build
	bench/study_skew.sh $(BUILD) 5 "1 2 3"

# The communication study of docs/study-communication.md (issue 11), the
# commands its tables came from, in its order: the 5-epoch parts C and B,
# part A (4 and 8 workers, 3 seeds, 2 epochs), the 1024-wide model, then
# parts C and B at the issue's 10 epochs (B with 4, then 8 training
# workers).  About 7.5 hours on a quiet
# 2-core machine.  Each run's log is kept under $(STUDY_LOGS)/e<epochs>/
# (a log's name says its part, workers, row and seed, not its epochs),
# and a rerun goes on where a stopped one ended (REUSE_LOGS=1).
STUDY_LOGS ?= $(BUILD)/study-comm-logs
STUDY_COMM = REUSE_LOGS=1 bench/study_comm.sh $(BUILD)
study-comm: build
	KEEP_LOGS=$(STUDY_LOGS)/e5 PARTS=c $(STUDY_COMM) 5 "1 2 3"
	KEEP_LOGS=$(STUDY_LOGS)/e5 C_WORKERS=8 PARTS=c $(STUDY_COMM) 5 "1 2 3"
	KEEP_LOGS=$(STUDY_LOGS)/e5 PARTS=b B_OPTS="adam:0.001 adam:0.005 sgd:0.05" $(STUDY_COMM) 5 "1 2 3"
	KEEP_LOGS=$(STUDY_LOGS)/e2 PARTS=a A_WORKERS="4 8" $(STUDY_COMM) 2 "1 2 3"
	KEEP_LOGS=$(STUDY_LOGS)/e1 PARTS=wide A_WORKERS="4 8" $(STUDY_COMM) 1 "1 2 3"
	KEEP_LOGS=$(STUDY_LOGS)/e10 PARTS=a A_WORKERS=4 A_LINKS=1gbit,50us $(STUDY_COMM) 10 "1 2 3"
	KEEP_LOGS=$(STUDY_LOGS)/e10 PARTS=c C_H="1 4 16 64" $(STUDY_COMM) 10 "1 2 3"
	KEEP_LOGS=$(STUDY_LOGS)/e10 C_WORKERS=8 PARTS=c C_H="1 4 16 64" $(STUDY_COMM) 10 "1 2 3"
	KEEP_LOGS=$(STUDY_LOGS)/e10 PARTS=b B_OPTS="adam:0.001 adam:0.005 sgd:0.05" $(STUDY_COMM) 10 "1 2 3"
	KEEP_LOGS=$(STUDY_LOGS)/e10 B_WORKERS=8 PARTS=b B_OPTS="adam:0.001 adam:0.005 sgd:0.05" $(STUDY_COMM) 10 "1 2 3"

# The federated study of docs/study-federated.md (issue 12): its tables
# and raw logs in $(BUILD)/study-fed-full/ (234 runs, about 50 minutes
# on the loaded 2-core machine; FED_SCALE=quick: a few minutes, 1 seed).
FED_SCALE ?= full
study-fed: build
	bench/study_fed.sh $(BUILD) $(FED_SCALE)

# Issue 12's targets for regula fed: rounds a second, peak memory with
# 10,000 clients, robust aggregation under 20% sign-flip attackers.
bench-fed: build
	bench/fed_bench.sh $(BUILD)

# One epoch of each model, regula against PyTorch, one core; run.sh unsets
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, as on a user's machine
# (make bench FORCED=1 also times regula with the environment's setting).
bench: build
	@scripts/deps.sh --bench
	bench/run.sh $(BUILD)

# Every matrix-product library (OpenBLAS, BLIS, LIBXSMM, the reference
# loop) on the models' shapes, one core, beside the FMA peak; first as a
# user's machine runs OpenBLAS (OPENBLAS_CORETYPE unset), then as set here.
bench-kernels:
	@scripts/deps.sh --kernels
	@$(MAKE) --no-print-directory build
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 taskset -c 0 $(BUILD)/bench_kernels
	@if [ -n "$$OPENBLAS_CORETYPE" ]; then OMP_NUM_THREADS=1 taskset -c 0 $(BUILD)/bench_kernels; fi

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz build-mpich build-refgemm build-march-x86-64-v3 build-march-x86-64-v2 build-base
