package model

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// builtinGolden is the SHA-256 of the embeddings, encoders and towers that
// trainSmall's model saves, measured before the encoders were generalised
// to dataset specs: the lab's path must keep giving these bits.
const builtinGolden = "89d3a5bcbedfd17db0ec7f6028b5437a9b4f45d3698cb6143422646153163493"

func TestBuiltInModelBitsUnchanged(t *testing.T) {
	res, _ := trainSmall(t)
	b := newMemBucket()
	if err := res.Save(context.Background(), b, "golden"); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, f := range []string{UserEmbeddingsFile, ItemEmbeddingsFile, UserTowerFile, ItemTowerFile, IDEmbeddingsFile, UserEncoderFile, ItemEncoderFile} {
		rc, err := b.Get(context.Background(), Key("golden", f))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		for {
			n, err := rc.Read(buf)
			h.Write(buf[:n])
			if err != nil {
				break
			}
		}
		rc.Close()
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != builtinGolden {
		t.Errorf("the built-in model's files hash to %s, want %s", got, builtinGolden)
	}
}
