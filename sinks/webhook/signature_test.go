package webhook

import (
	"errors"
	"testing"
	"time"
)

// The expected value was computed outside Go, following the recipe in
// the spec:
//
//	printf '%s' '1714564800.{"kind":"alert","id":"abc"}' | openssl dgst -sha256 -hmac 'It is a secret to everybody'
const (
	vectorSecret = "It is a secret to everybody"
	vectorTS     = "1714564800"
	vectorBody   = `{"kind":"alert","id":"abc"}`
	vectorSig    = "sha256=c36aff164dcff649c9053e71ff16ae7df5bc08e5eb1867f96b1abc9580d0b54b"
)

func TestSignMatchesTheDocumentedRecipe(t *testing.T) {
	if got := Sign([]byte(vectorSecret), vectorTS, []byte(vectorBody)); got != vectorSig {
		t.Errorf("Sign = %s, want %s", got, vectorSig)
	}
}

func TestVerify(t *testing.T) {
	signedAt := time.Unix(1714564800, 0)
	secret := []byte(vectorSecret)
	body := []byte(vectorBody)
	cases := []struct {
		name    string
		secret  []byte
		ts      string
		body    string
		sig     string
		now     time.Time
		wantErr error
	}{
		{"valid", secret, vectorTS, vectorBody, vectorSig, signedAt.Add(time.Minute), nil},
		{"body changed", secret, vectorTS, vectorBody + " ", vectorSig, signedAt, ErrBadSignature},
		{"timestamp changed (replay with a fresh time)", secret, "1714564900", vectorBody, vectorSig, signedAt, ErrBadSignature},
		{"other secret", []byte("another secret entirely"), vectorTS, vectorBody, vectorSig, signedAt, ErrBadSignature},
		{"no prefix", secret, vectorTS, vectorBody, vectorSig[len("sha256="):], signedAt, ErrBadSignature},
		{"not hex", secret, vectorTS, vectorBody, "sha256=zz", signedAt, ErrBadSignature},
		{"too old", secret, vectorTS, vectorBody, vectorSig, signedAt.Add(6 * time.Minute), ErrStale},
		{"from the future", secret, vectorTS, vectorBody, vectorSig, signedAt.Add(-6 * time.Minute), ErrStale},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Verify(c.secret, c.ts, []byte(c.body), c.sig, 5*time.Minute, c.now)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, c.wantErr)
			}
		})
	}
	if err := Verify(secret, vectorTS, body, vectorSig, 0, signedAt.Add(24*time.Hour)); err != nil {
		t.Errorf("maxAge 0 must skip the age check: %v", err)
	}
}
