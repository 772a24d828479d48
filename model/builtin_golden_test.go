package model

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// builtinGolden is the SHA-256 of the embeddings, encoders and towers that
// trainSmall's model saves, measured on the code just before the encoders
// were generalised to dataset specs (with the item-neighbour blend and 64
// negatives already in): the lab's path must keep giving these bits. A
// deliberate change of the model's defaults changes it too; say so in the
// commit.
const builtinGolden = "55f162af97f5f288008d82733787fbd292e350b244811ca0ae125a46c48a29d2"

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
