package connect_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/internal/connect"
)

// TestTrackCreatedDirs: the directories a file lake or embedded vector store
// open created are removed when they hold nothing but directories; existing
// directories and anything holding a file stay.
func TestTrackCreatedDirs(t *testing.T) {
	root := t.TempDir()
	ctx, removeCreated := connect.TrackCreatedDirs(context.Background())

	newLake := filepath.Join(root, "data", "lake")
	b, err := connect.Lake(ctx, "file://"+newLake, connect.LakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	newVectors := filepath.Join(root, "data", "vectors")
	st, err := connect.Vectors(ctx, "file://"+newVectors, connect.VectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	written := filepath.Join(root, "written", "lake")
	b, err = connect.Lake(ctx, written, connect.LakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "x/y.json", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	b.Close()
	existing := filepath.Join(root, "existing")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err = connect.Lake(ctx, "file://"+existing, connect.LakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()

	removeCreated()
	if _, err := os.Stat(filepath.Join(root, "data")); !os.IsNotExist(err) {
		t.Errorf("the empty directories the opens created are still there (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(written, "x", "y.json")); err != nil {
		t.Errorf("a lake that was written to was removed: %v", err)
	}
	if _, err := os.Stat(existing); err != nil {
		t.Errorf("a directory that existed before was removed: %v", err)
	}

	// Without tracking, nothing is recorded (and nothing removed).
	plain := filepath.Join(root, "plain")
	if b, err = connect.Lake(context.Background(), plain, connect.LakeOptions{}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	removeCreated()
	if _, err := os.Stat(plain); err != nil {
		t.Errorf("an untracked open's directory was removed: %v", err)
	}
}
