# lorakit: two set-up commands, `make demo` and `make test`. Both install what is missing.
SWIFT ?= swift
PREFIX ?= /usr/local
TEST_FLAGS := -c release -Xswiftc -enable-testing
BIN := .build/release/lorakit

.PHONY: all bootstrap build demo test bench man install faults fuzz clean tensorboard-check \
	check-architecture tsan

all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	$(SWIFT) build -c release --product lorakit

# The main job on the bundled defaults (see README, "Demo").
demo: build
	@scripts/demo.sh

# Every test, built once in release with testing enabled: the numeric tests are too slow in
# debug, and one build keeps the suite well inside CI's budget.
test: bootstrap check-architecture
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	$(SWIFT) test $(TEST_FLAGS) --skip-build
	$(SWIFT) build $(TEST_FLAGS) --product lorakit-faults
	.build/release/lorakit-faults

# The module graph of docs/architecture.md against Package.swift and every import; line budgets.
check-architecture:
	@scripts/check-architecture.py

# Every test under ThreadSanitizer, in its own build folder (.build-tsan). Slow: about 25 minutes.
tsan: bootstrap
	$(SWIFT) build $(TEST_FLAGS) --sanitize=thread --build-tests --scratch-path .build-tsan
	$(SWIFT) test $(TEST_FLAGS) --sanitize=thread --skip-build --scratch-path .build-tsan

# The fault suite (Faults/lorakit-faults): bad files, bad arguments, full disks, signals, killed
# training runs and bad datasets against the built tool; prints a table (case, expected,
# observed). Same build flags as `make test`, so one build serves both. SANITIZE=address or
# SANITIZE=thread runs the suite against a sanitizer build of lorakit (.build-asan, .build-tsan).
faults: bootstrap
	$(SWIFT) build $(TEST_FLAGS)
ifeq ($(SANITIZE),address)
	$(SWIFT) build -c release -Xswiftc -sanitize=address --scratch-path .build-asan --product lorakit
	.build/release/lorakit-faults --tool .build-asan/release/lorakit
else ifeq ($(SANITIZE),thread)
	$(SWIFT) build $(TEST_FLAGS) --sanitize=thread --scratch-path .build-tsan --product lorakit
	.build/release/lorakit-faults --tool .build-tsan/release/lorakit
else
	.build/release/lorakit-faults
endif

# TensorBoard's own reader on the demo's logs (run `make demo` first). tensorboard is not a
# dependency: it goes into a virtual environment under .build for this check only.
tensorboard-check:
	@test -x .build/tbcheck/bin/python || (python3 -m venv .build/tbcheck && .build/tbcheck/bin/pip install -q tensorboard)
	.build/tbcheck/bin/python scripts/check_tensorboard.py .build/demo/logs loss/current loss/average loss/epoch lr/unet

# Throughput and peak memory of each command on SDXL-sized inputs the project generates.
bench: build
	$(SWIFT) build -c release --product lorakit-bench
	@scripts/bench.sh

# Man pages from the command definitions (swift-argument-parser's generate-manual plugin).
man: bootstrap
	@scripts/man.sh

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/lorakit
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/

# libFuzzer with AddressSanitizer (Fuzz/), one target at a time: the safetensors header reader,
# LoRA files, metadata JSON, block vectors, resize recipes, sample-prompt files.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= reader lora json vector recipe prompt
fuzz: bootstrap
	@for target in $(FUZZ_TARGETS); do scripts/fuzz.sh $$target $(FUZZ_SECONDS) || exit 1; done

clean:
	rm -rf .build .build-asan .build-tsan
