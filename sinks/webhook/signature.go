package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of a delivery.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of the
	// timestamp, a dot and the body, keyed with the configured secret.
	HeaderSignature = "X-Nfpipe-Signature"
	// HeaderTimestamp is the Unix time in seconds at which the request
	// was signed; it is part of the signed text, so a captured request
	// cannot be replayed later with a fresh timestamp.
	HeaderTimestamp = "X-Nfpipe-Timestamp"
	// HeaderDelivery identifies one delivery (one body); it stays the
	// same on every retry of that body, so a receiver can drop repeats.
	HeaderDelivery = "X-Nfpipe-Delivery"
	// HeaderAttempt is 1 on the first try of a delivery, 2 on the first
	// retry, and so on.
	HeaderAttempt = "X-Nfpipe-Attempt"
)

// signaturePrefix names the algorithm, so it can change without breaking
// receivers that check it.
const signaturePrefix = "sha256="

// Sign returns the X-Nfpipe-Signature value for a body signed at
// timestamp (decimal Unix seconds, as sent in X-Nfpipe-Timestamp).
func Sign(secret []byte, timestamp string, body []byte) string {
	return signaturePrefix + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("signature does not match the body")
	ErrStale        = errors.New("timestamp is outside the allowed window")
)

// Verify checks a request's X-Nfpipe-Signature and X-Nfpipe-Timestamp
// against its raw body, as a receiver should: the MAC is compared in
// constant time, and a timestamp further than maxAge from now (either
// way) is refused so that a recorded request cannot be replayed. A
// maxAge of 0 skips the age check.
func Verify(secret []byte, timestamp string, body []byte, signature string, maxAge time.Duration, now time.Time) error {
	hexSig, ok := strings.CutPrefix(signature, signaturePrefix)
	if !ok {
		return fmt.Errorf("signature must start with %q: %w", signaturePrefix, ErrBadSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return fmt.Errorf("signature is not hex: %w", ErrBadSignature)
	}
	if !hmac.Equal(got, mac(secret, timestamp, body)) {
		return ErrBadSignature
	}
	if maxAge > 0 {
		sec, err := strconv.ParseInt(timestamp, 10, 64)
		if err != nil {
			return fmt.Errorf("timestamp %q is not Unix seconds: %w", timestamp, ErrStale)
		}
		if d := now.Sub(time.Unix(sec, 0)); d > maxAge || d < -maxAge {
			return ErrStale
		}
	}
	return nil
}
