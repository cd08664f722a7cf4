#!/bin/sh
# Regenerates the Go code of the plugin protocol (make proto). The output
# is committed; never edit the generated files by hand.
#
# Needs protoc (Debian: apt-get install protobuf-compiler) and the two Go
# generators at the versions the committed code was made with:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
set -eu
cd "$(dirname "$0")"
PATH="$(go env GOPATH)/bin:$PATH"
for tool in protoc protoc-gen-go protoc-gen-go-grpc; do
	command -v "$tool" >/dev/null || { echo "gen.sh: $tool not found; see the comment at the top of $0" >&2; exit 1; }
done
protoc -I . \
	--go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	nfpipe/plugin/v1/plugin.proto
