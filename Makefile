# berth: the two commands a new Debian 12 machine needs are `make demo` and `make check`.
BUILD ?= build
MESON ?= meson

.PHONY: all deps build check demo bench clean format

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

check: build
	tests/check.sh

demo: build
	scripts/demo.sh

bench: build
	@scripts/install-deps.sh --bench
	BERTH=$(abspath $(BUILD))/berth bench/pull
	BERTH=$(abspath $(BUILD))/berth bench/machine

format:
	clang-format -i src/*.c src/*/*.c src/*/*.h tests/unit/*.c tests/unit/*.h fuzz/*.c

clean:
	rm -rf $(BUILD) build-asan build-fuzz
