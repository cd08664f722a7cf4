// Package jsonl is the jsonl sink: it writes every event it receives as
// one JSON object per line, in the event package's JSON contract, to a
// file or to standard output. It is meant for jq, tail -f, log shippers
// and golden tests.
package jsonl
