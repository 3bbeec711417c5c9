GO ?= go

.PHONY: build test test-short vet fuzz bench run

build:
	$(GO) build -o bin/chronik ./cmd/chronik

run:
	$(GO) run ./cmd/chronik

# The whole suite, as CI runs it: vet, then every test with the race detector.
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...

test-short: vet
	$(GO) test -short -count=1 ./...

vet:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...

# Short fuzzing passes over the decoders (the seed corpora run in `make test`).
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzRequest -fuzztime 30s ./internal/server/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./internal/compress/
	$(GO) test -run '^$$' -fuzz FuzzParseHeader -fuzztime 30s ./internal/batch/
	$(GO) test -run '^$$' -fuzz FuzzConvertLegacy -fuzztime 30s ./internal/batch/
	$(GO) test -run '^$$' -fuzz FuzzDownConvert -fuzztime 30s ./internal/batch/
