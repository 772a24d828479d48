// Package jsonout appends JSON values to a byte slice exactly as
// encoding/json writes them, without reflection, for the hot paths that
// encode records by hand (the stream's events and recommendations).
package jsonout

import "encoding/json"

// Plain reports whether s is written as it is between quotes: printable
// ASCII other than quotes, backslashes and HTML's <, > and & (which
// encoding/json escapes).
func Plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// AppendString appends s as a JSON string, as encoding/json writes it:
// a plain string (see Plain) is copied between quotes; anything else is
// left to encoding/json.
func AppendString(dst []byte, s string) []byte {
	if !Plain(s) {
		b, _ := json.Marshal(s) // a string always marshals
		return append(dst, b...)
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
