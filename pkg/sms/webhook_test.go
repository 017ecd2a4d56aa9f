package sms

import (
	"net/url"
	"testing"
)

// TestSignatureMatchesTwilios checks the signature against the example in
// Twilio's own signature-validation snippet.
func TestSignatureMatchesTwilios(t *testing.T) {
	u := "https://mycompany.com/myapp.php?foo=1&bar=2"
	p := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675310"}, "Digits": {"1234"}, "From": {"+14158675310"}, "To": {"+18005551212"}}
	if got := Signature("12345", u, p); got != "GvWf1cFY/Q7PnoempGyD5oXAezc=" {
		t.Fatalf("signature %s", got)
	}
	if !ValidSignature("12345", u, p, "GvWf1cFY/Q7PnoempGyD5oXAezc=") || ValidSignature("12345", u+"&x=1", p, "GvWf1cFY/Q7PnoempGyD5oXAezc=") || ValidSignature("", u, p, "") {
		t.Fatal("ValidSignature")
	}
}
