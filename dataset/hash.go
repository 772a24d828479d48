package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Hash returns a digest of s that changes whenever the meaning of s does:
// the SHA-256, in hex, of its canonical form — s with every default filled
// (WithDefaults), encoded as JSON (fields in declaration order, map keys
// sorted). Comments, key order and spelled-out defaults of the YAML file do
// not change it. Artifacts record it to say which spec they were made from.
func Hash(s *Spec) string {
	d := s.WithDefaults()
	b, err := json.Marshal(&d)
	if err != nil {
		// A Spec holds only strings, numbers, slices and maps of them.
		panic("dataset: encode spec: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
