package contact

import (
	"net/mail"
	"strings"
	"unicode/utf8"
)

// NormalizeEmail checks an address and returns it as typed (trimmed) and its
// comparison form (lower case: pi-crm compares emails case-insensitively,
// which is right for every provider our users meet). The message is for the
// user when the address is not valid.
func NormalizeEmail(raw string) (addr, norm, msg string) {
	addr = strings.TrimSpace(raw)
	if addr == "" {
		return "", "", "Enter an email address."
	}
	if len(addr) > 254 || !utf8.ValidString(addr) {
		return addr, "", "That email address is too long or not text."
	}
	a, err := mail.ParseAddress(addr)
	at := strings.LastIndexByte(addr, '@')
	if err != nil || a.Address != addr || at < 1 || !strings.Contains(addr[at+1:], ".") || strings.HasSuffix(addr, ".") {
		return addr, "", "Enter an email address like name@example.com."
	}
	return addr, strings.ToLower(addr), ""
}
